"""Reverse-mode differentiation over ``Value`` graphs: ``backward``, ``grad``, ``no_grad``.

Topological order is built iteratively (no recursion limit) and deterministically (parents are an
ordered pair, never a set), so the same graph sums its gradients in the same order in every run.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence

from engine import value as _value
from engine.ops import FLOAT, OPS, VALUE, BoundOp, ConstOp, compile_source, indent
from engine.value import Value


def topological_order(roots: Iterable[Value]) -> list[Value]:
    """Every node reachable from ``roots``, each after all of its parents (inputs first)."""
    order: list[Value] = []
    append = order.append
    seen: set[Value] = set()
    mark = seen.add
    stack: list[Value | None] = list(roots)[::-1]
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


# While backward() walks the graph, .grad holds its state (every grad is reset for the pass
# anyway): _ENTERED while a node's parents are being ordered, then _FRESH, the -0.0 a pass starts
# from. No visited set, and the stack is one entry deep per level of the graph.
_ENTERED = object()
_FRESH = -0.0  # this very object marks "done": sums made later are always new float objects

# Ops whose backward step (op.back_src) is inlined into the loop, most common first; every
# other op is called through its ``back``. Generated, so the op table stays the only copy.
_INLINED = ("add", "mul", "tanh", "relu", "sub", "neg", "exp")

_BACKWARD_TEMPLATE = """
def make(entered, fresh, unset, {ops}):
    def backward(root, gradient=1.0):
        if not isinstance(root, Value):
            raise TypeError(f"backward() needs a Value, got {{type(root).__name__}}")
        gradient = float(gradient) * 1.0  # a new float object (never the fresh mark), same value
        stash = []  # earlier non-zero grads, added back at the end
        order = []  # inputs first
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
            for node in reversed(order):
                spec = node._spec
                if spec is None:
                    continue
{dispatch}                else:
                    spec.back(node)
        except BaseException:  # e.g. backward through '//': leave every grad as it was
            for node in order + stack:
                node.grad = unset
            for node, g in stash:
                node.grad = g
            raise
        for node, g in stash:
            node.grad = g + node.grad

    return backward
"""


def _generate_backward() -> Callable[..., None]:
    inlined = [OPS[name] for name in _INLINED if OPS[name].back_src]
    branches = [f"{'if' if i == 0 else 'elif'} spec is {op.name}_op:\n{indent(op.back_src, 4)}"
                for i, op in enumerate(inlined)]
    source = _BACKWARD_TEMPLATE.format(ops=", ".join(f"{op.name}_op" for op in inlined),
                                       dispatch="".join(indent(b, 16) for b in branches))
    namespace = compile_source(source, "<vetgrad backward, generated from engine.ops>",
                               {"Value": Value})
    made = namespace["make"](_ENTERED, _FRESH, _value._UNSET, *inlined)
    made.__module__ = __name__
    made.__qualname__ = made.__name__
    return made


backward: Callable[[Value, float], None] = _generate_backward()
backward.__doc__ = """``root.backward()``: add d(root)/d(node) * gradient to ``.grad`` of every reachable node.

Each call propagates fresh gradients and then adds what earlier calls left (torch's
``retain_graph=True``), so nothing is counted twice. A pass starts every node at -0.0, the
additive identity that keeps the sign of a zero gradient (torch assigns its first contribution).
"""


def grad_is_set(v: Value) -> bool:
    """Whether ``v.grad`` holds a gradient: a ``backward()`` (or an assignment) has set it since
    ``v`` was made or zeroed. torch's ``v.grad is not None``; optimizers skip the others."""
    g = v.grad
    return g is not _value._UNSET and g is not None


def zero_grad(values: Iterable[Value], set_to_none: bool = True) -> None:
    """Set ``grad`` to 0.0 on each of ``values`` (e.g. a model's parameters): unset, as torch's
    ``zero_grad()`` sets None, so the next ``backward()`` assigns rather than adds and optimizers
    skip it. ``set_to_none=False``: a set gradient becomes a set 0.0 instead (torch's
    ``grad.zero_()``), an unset one stays unset."""
    if set_to_none:
        unset = _value._UNSET
        for v in values:
            v.grad = unset
        return
    for v in values:
        if grad_is_set(v):
            v.grad = 0.0


def zero_grad_graph(root: Value) -> None:
    """Set ``grad`` to 0.0 on ``root`` and every node it was computed from."""
    zero_grad(topological_order((root,)))


def _as_tuple(x: Value | Sequence[Value], what: str) -> tuple[Value, ...]:
    items = (x,) if isinstance(x, Value) else tuple(x)
    for item in items:
        if not isinstance(item, Value):
            raise TypeError(f"grad() {what} must be Values, got {type(item).__name__}")
    if not items:
        raise ValueError(f"grad() needs at least one of {what}")
    return items


def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: Sequence[float | Value] | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Value | None, ...]:
    """d(sum of outputs)/d(input) for each input, as ``torch.autograd.grad`` computes it.

    Does not touch ``.grad``. With ``create_graph=True`` the gradients are Values with history, so
    they can be differentiated again (higher-order derivatives); otherwise they are new leaves.
    An input the outputs do not depend on raises, or gives None with ``allow_unused=True``.
    """
    outs = _as_tuple(outputs, "outputs")
    ins = _as_tuple(inputs, "inputs")
    if grad_outputs is None:
        seeds: list[float | Value] = [1.0] * len(outs)
    else:
        seeds = list(grad_outputs)
        if len(seeds) != len(outs):
            raise ValueError(f"grad_outputs has {len(seeds)} entries for {len(outs)} outputs")
    order = topological_order(outs)
    wanted = set(ins)
    needed: set[Value] = set()
    for v in order:  # parents come first, so one pass finds every node on a path to an input
        if v in wanted or v._a in needed or v._b in needed:
            needed.add(v)
    F = VALUE if create_graph else FLOAT
    acc: dict[Value, float | Value] = {}
    for out, seed in zip(outs, seeds):
        if out in needed:
            if create_graph:
                seed = seed if isinstance(seed, Value) else Value(float(seed))
            else:
                seed = seed.data if isinstance(seed, Value) else float(seed)
            acc[out] = acc[out] + seed if out in acc else seed
    previous = _value._grad_enabled
    _value._grad_enabled = bool(create_graph)
    try:
        for v in reversed(order):
            g = acc.get(v)
            if g is None or v._a is None or v not in needed:
                continue
            spec = v._spec
            if spec.vjp is None:
                spec.back(v)  # raises the op's own error
            params = spec.params if isinstance(spec, BoundOp) else ()
            a, b = v._a, v._b
            x = a if create_graph else a.data
            out = v if create_graph else v.data
            if b is None:
                pairs: tuple[tuple[Value, float | Value], ...] = (
                    (a, spec.vjp(F, g, x, out, *params)),)
            elif isinstance(spec, ConstOp):  # b is a constant number: only a gets a gradient
                grads = spec.vjp(F, g, *spec.operands(x, b), out)
                pairs = ((a, grads[0] if spec.right else grads[1]),)
            else:
                ga, gb = spec.vjp(F, g, x, b if create_graph else b.data, out, *params)
                pairs = ((a, ga), (b, gb))
            for parent, pg in pairs:
                if parent in needed:
                    acc[parent] = acc[parent] + pg if parent in acc else pg
    finally:
        _value._grad_enabled = previous
    result: list[Value | None] = []
    for x in ins:
        if x not in acc:
            if not allow_unused:
                raise ValueError(
                    "one of the inputs was not used to compute the outputs "
                    "(pass allow_unused=True to get None for it)"
                )
            result.append(None)
            continue
        g = acc[x]
        result.append(g if isinstance(g, Value) else Value(float(g)))
    return tuple(result)


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block ops record no history: results are leaves (like ``torch.no_grad``)."""
    previous = _value._grad_enabled
    _value._grad_enabled = False
    try:
        yield
    finally:
        _value._grad_enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record history again inside a ``no_grad`` block."""
    previous = _value._grad_enabled
    _value._grad_enabled = True
    try:
        yield
    finally:
        _value._grad_enabled = previous


def is_grad_enabled() -> bool:
    return _value._grad_enabled
