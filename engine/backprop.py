"""The backward pass over a graph of nodes: ``backward``, ``topological_order``, ``zero_grad``.

Below :mod:`engine.value` in the import graph (value imports this module, never the reverse): a
node is anything with ``data``, ``grad``, ``_a``, ``_b`` and ``_spec``, which is all these functions
read. Topological order is built iteratively (no recursion limit) and deterministically (parents
are an ordered pair, never a set), so the same graph sums its gradients in the same order in every
run.
"""

from __future__ import annotations

from typing import Any, Iterable, TypeVar

from vetgrad.engine.ops import OPS


class UnsetGrad(float):
    """The type of :data:`UNSET`: a 0.0 that is not any other 0.0."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "UNSET"  # pickle and copy give back the marker itself: still unset


# The grad of a node that no backward() has reached since it was made or zeroed: torch's None.
# Told by identity (this very object): backward() assigns to it instead of adding, so a first
# -0.0 gradient keeps its sign as in torch. It equals and prints as 0.0 (micrograd's .grad), but
# is of its own type, so that no 0.0 of the code (literals are shared within a module) and no
# computed 0.0 can ever be it.
UNSET: float = UnsetGrad(0.0)

class Untracked:
    """The spec of a result computed under ``no_grad()``: a leaf that, as torch's tensor with
    ``requires_grad=False``, cannot be the root of ``backward()`` (which raises instead of leaving
    every gradient 0.0). As a parent of later nodes it is an ordinary leaf."""

    __slots__ = ()
    name = "untracked"
    symbol = ""
    vjp = None
    params: tuple[Any, ...] = ()

    def back(self, node: Any) -> None:
        """Nothing to propagate: the node has no parents."""

    def __reduce__(self) -> str:
        return "UNTRACKED"  # pickle and copy give back this very object

    def __repr__(self) -> str:
        return "UNTRACKED"


UNTRACKED = Untracked()


# While backward() walks the graph, .grad holds its state (every grad is reset for the pass
# anyway): _ENTERED while a node's parents are being ordered, then _FRESH, the -0.0 a pass starts
# from. No visited set, and the stack is one entry deep per level of the graph. _FRESH is a plain
# float (the pass adds to it, and a float subclass would take the slow path of +=) made at run
# time, so that no -0.0 literal of this module is it; sums made later are always new objects.
_ENTERED: Any = object()
_FRESH = float("-0.0")

# backward() inlines these ops' backward steps (their rows' fast_back, engine/ops/), most common
# first; every other op is called through its spec's ``back``. Each branch is listed in
# engine/inlined.py, whose tests hold it bit-identical to the row's rule.
_ADD, _MUL, _TANH, _RELU = OPS["add"], OPS["mul"], OPS["tanh"], OPS["relu"]
_SUB, _NEG, _EXP = OPS["sub"], OPS["neg"], OPS["exp"]
INLINED = (_ADD, _MUL, _TANH, _RELU, _SUB, _NEG, _EXP)

Node = TypeVar("Node")  # a Value, or any object with its five attributes


def topological_order(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each after all of its parents (inputs first)."""
    order: list[Node] = []
    append = order.append
    seen: set[Node] = set()
    mark = seen.add
    stack: list[Any] = list(roots)[::-1]
    push = stack.append
    pop = stack.pop
    while stack:
        v = pop()
        if v is None:  # all parents of the node below the marker are done
            append(pop())
            continue
        if v in seen:
            continue
        mark(v)
        a = v._a
        if a is None:
            append(v)
            continue
        push(v)
        push(None)
        b = v._b
        if b is not None and b.__class__ is not float and b not in seen:
            push(b)
        if a not in seen:
            push(a)  # popped first: the first parent comes first in the order
    return order


def backward(root: Any, gradient: float = 1.0) -> None:
    """Add d(root)/d(node) * gradient to ``.grad`` of every node reachable from ``root``.

    Each call propagates fresh gradients and then adds what earlier calls left (torch's
    ``retain_graph=True``), so nothing is counted twice. A pass starts every node at -0.0, the
    additive identity that keeps the sign of a zero gradient (torch assigns its first contribution).
    ``root`` is not checked: :func:`engine.autograd.backward` does that for callers from outside.
    """
    # Locals, not globals: the loops below read them on every node.
    entered, fresh, unset = _ENTERED, _FRESH, UNSET
    add_op, mul_op, tanh_op, relu_op = _ADD, _MUL, _TANH, _RELU
    sub_op, neg_op, exp_op = _SUB, _NEG, _EXP
    gradient = float(gradient) * 1.0  # a new float object (never the fresh mark), same value
    stash = []  # earlier non-zero grads, added back at the end
    order: list[Any] = []  # inputs first
    stack = [root]
    push = stack.append
    pop = stack.pop
    append = order.append
    try:
        while stack:
            node = pop()
            g = node.grad
            if g is entered:  # its parents are done
                node.grad = fresh
                append(node)
                continue
            while g is not fresh:  # enter node, then go straight on to its first parent
                if g is not unset and g is not None:  # an earlier gradient (None: torch's unset)
                    stash.append((node, g))
                a = node._a
                if a is None:  # a leaf is done at once
                    node.grad = fresh
                    append(node)
                    break
                push(node)
                node.grad = entered
                b = node._b  # a Value, None, or a constant operand (a float; see ConstOp)
                if b is not None and b.__class__ is not float and b.grad is not fresh:
                    push(b)
                node = a  # the first parent comes first in the order
                g = a.grad
        root.grad = gradient
        # The rows' fast_back steps, written out (engine/inlined.py lists each branch; its tests
        # hold them bit-identical to the rows' VJP rules).
        for node in reversed(order):
            spec = node._spec
            if spec is None:
                continue
            if spec is add_op:
                g = node.grad
                node._a.grad += g
                node._b.grad += g
            elif spec is mul_op:
                a = node._a
                b = node._b
                g = node.grad
                a.grad += g * b.data
                b.grad += g * a.data
            elif spec is tanh_op:
                out = node.data
                node._a.grad += node.grad * ((1.0 - out) * (1.0 + out))
            elif spec is relu_op:
                node._a.grad += 0.0 if node.data <= 0.0 else node.grad
            elif spec is sub_op:
                g = node.grad
                node._a.grad += g
                node._b.grad += -g
            elif spec is neg_op:
                node._a.grad += -node.grad
            elif spec is exp_op:
                node._a.grad += node.grad * node.data
            else:
                spec.back(node)
    except BaseException:  # e.g. backward through '//': leave every grad as it was
        for node in order + stack:
            node.grad = unset
        for node, g in stash:
            node.grad = g
        raise
    for node, g in stash:
        node.grad = g + node.grad


def grad_is_set(v: Any) -> bool:
    """Whether ``v.grad`` holds a gradient: a ``backward()`` (or an assignment) has set it since
    ``v`` was made or zeroed. torch's ``v.grad is not None``; optimizers skip the others."""
    g = v.grad
    return g is not UNSET and g is not None


def zero_grad(values: Iterable[Any], set_to_none: bool = True) -> None:
    """Set ``grad`` to 0.0 on each of ``values`` (e.g. a model's parameters): unset, as torch's
    ``zero_grad()`` sets None, so the next ``backward()`` assigns rather than adds and optimizers
    skip it. ``set_to_none=False``: a set gradient becomes a set 0.0 instead (torch's
    ``grad.zero_()``), an unset one stays unset."""
    if set_to_none:
        for v in values:
            v.grad = UNSET
        return
    for v in values:
        if grad_is_set(v):
            v.grad = 0.0


def zero_grad_graph(root: Any) -> None:
    """Set ``grad`` to 0.0 on ``root`` and every node it was computed from."""
    zero_grad(topological_order((root,)))
