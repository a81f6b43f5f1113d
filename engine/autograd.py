"""Reverse-mode differentiation over ``Value`` graphs: ``backward``, ``grad``, ``no_grad``.

The backward pass itself (and topological order, zeroing) is :mod:`engine.backprop`, below
:mod:`engine.value`; this module sits above both, so the import graph has no cycle.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from engine import backprop as _backprop
from engine import value as _value
from engine.backprop import grad_is_set, topological_order, zero_grad, zero_grad_graph
from engine.ops import FLOAT, VALUE, BoundOp, ConstOp
from engine.value import Value

__all__ = ["backward", "enable_grad", "grad", "grad_is_set", "is_grad_enabled", "no_grad",
           "topological_order", "zero_grad", "zero_grad_graph"]


def backward(root: Value, gradient: float = 1.0) -> None:
    """``root.backward()``: add d(root)/d(node) * gradient to ``.grad`` of every reachable node.

    Each call propagates fresh gradients and then adds what earlier calls left (torch's
    ``retain_graph=True``), so nothing is counted twice. A pass starts every node at -0.0, the
    additive identity that keeps the sign of a zero gradient (torch assigns its first contribution).
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward() needs a Value, got {type(root).__name__}")
    _backprop.backward(root, gradient)


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
    previous = _value.set_grad_mode(create_graph)  # this thread only
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
        _value.set_grad_mode(previous)
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
    """Inside this block ops record no history in this thread (like ``torch.no_grad``, per
    thread): results are leaves, which ``backward()`` refuses as roots."""
    previous = _value.set_grad_mode(False)
    try:
        yield
    finally:
        _value.set_grad_mode(previous)


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record history again in this thread inside a ``no_grad`` block."""
    previous = _value.set_grad_mode(True)
    try:
        yield
    finally:
        _value.set_grad_mode(previous)


def is_grad_enabled() -> bool:
    """Whether ops record history in this thread (False inside ``no_grad``)."""
    return _value.grad_mode()
