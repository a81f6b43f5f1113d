"""Reverse-mode differentiation over ``Value`` graphs: ``backward``, ``grad``, ``no_grad``.

The backward pass itself (and topological order, zeroing) is :mod:`engine.backprop`, below
:mod:`engine.value`; this module sits above both, so the import graph has no cycle.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from vetgrad.engine import value as _value
from vetgrad.engine.backprop import (
    UNTRACKED,
    grad_is_set,
    topological_order,
    zero_grad,
    zero_grad_graph,
)
from vetgrad.engine.ops import FLOAT, BoundOp, ConstOp
from vetgrad.engine.value import Value

__all__ = ["backward", "enable_grad", "grad", "grad_is_set", "is_grad_enabled", "no_grad",
           "topological_order", "zero_grad", "zero_grad_graph"]


class ValueMath:
    """The ``F`` of VJP rules on ``Value`` objects (``create_graph=True``); engine.ops.FLOAT is
    the one on floats."""

    call = staticmethod(_value.call_op)  # call(op, *inputs, *params): a node of a backward op

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        # torch's formulas divide tensors: a float numerator is a leaf, not ``c / x`` (which is
        # torch's reciprocal(x) * c and would turn 0 / 1e-300 into 0 * inf = nan)
        return (_value._leaf(float(a)) if isinstance(a, (int, float)) else a) / b

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return a**b

    pow_scalar = pow

    @staticmethod
    def val(x: Any) -> float:
        return x.data if hasattr(x, "data") else x  # type: ignore[no-any-return]

    @staticmethod
    def exp(a: Any) -> Any:
        return a.exp()

    @staticmethod
    def sigmoid(a: Any) -> Any:
        return a.sigmoid()

    @staticmethod
    def log(a: Any) -> Any:
        return a.log()

    @staticmethod
    def sin(a: Any) -> Any:
        return a.sin()

    @staticmethod
    def cos(a: Any) -> Any:
        return a.cos()


VALUE = ValueMath


def backward(root: Value, gradient: float | Value | None = 1.0) -> None:
    """``root.backward(gradient)``: add d(root)/d(node) * gradient to ``.grad`` of every reachable
    node (see :meth:`Value.backward`)."""
    if not isinstance(root, Value):
        raise TypeError(f"backward() needs a Value, got {type(root).__name__}: {root!r}")
    root.backward(gradient)


def _as_tuple(x: Any, what: str) -> tuple[Any, ...]:
    if isinstance(x, Value):
        return (x,)
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise TypeError(f"grad() {what} must be a Value or a sequence of Values, got "
                        f"{type(x).__name__}: {x!r}")
    return tuple(x)


def _check_outputs(outs: tuple[Any, ...]) -> None:
    for i, out in enumerate(outs):
        if not isinstance(out, Value):
            raise TypeError(f"grad() outputs must be Values, got {type(out).__name__} at index {i}: "
                            f"{out!r}")
        if out._spec is UNTRACKED:
            raise RuntimeError(_value.no_history(i))


def _check_inputs(ins: tuple[Any, ...]) -> None:
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    for x in ins:
        if not isinstance(x, Value):
            raise RuntimeError(f"all inputs have to be Values, but got {type(x).__name__}: {x!r}")
        if x._spec is UNTRACKED:
            raise RuntimeError("One of the differentiated Values does not require grad: it was "
                               "computed under no_grad() or by detach()")


def _seeds(grad_outputs: Any, count: int) -> list[float | Value]:
    if grad_outputs is None:
        return [1.0] * count
    if isinstance(grad_outputs, Value):
        given: tuple[Any, ...] = (grad_outputs,)
    elif isinstance(grad_outputs, (str, bytes)) or not isinstance(grad_outputs, Iterable):
        raise TypeError("grad() grad_outputs must be a sequence with one entry per output (real "
                        f"numbers, Values or None), got {type(grad_outputs).__name__}: "
                        f"{grad_outputs!r}")
    else:
        given = tuple(grad_outputs)
    if len(given) != count:
        raise RuntimeError(f"got {count} outputs and {len(given)} grad_outputs: grad() needs one "
                           "per output")
    return [_value.gradient_seed(g, "grad_outputs entries") for g in given]


def _unused(index: int) -> RuntimeError:
    return RuntimeError(f"The differentiated Value at index {index} appears to not have been used "
                        "in the graph. Set allow_unused=True if this is the desired behavior.")


def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: Sequence[float | Value | None] | Value | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Value | None, ...]:
    """d(sum of outputs)/d(input) for each input, as ``torch.autograd.grad`` computes it.

    Does not touch ``.grad``. With ``create_graph=True`` the gradients are Values with history, so
    they can be differentiated again (higher-order derivatives); otherwise they are new leaves.
    An input the outputs do not depend on raises, or gives None with ``allow_unused=True``.
    Misuse raises what torch raises (a RuntimeError, or a TypeError for an argument of the wrong
    type), with a message that names the problem.
    """
    outs = _as_tuple(outputs, "outputs")
    ins = _as_tuple(inputs, "inputs")
    _check_outputs(outs)
    _check_inputs(ins)
    seeds = _seeds(grad_outputs, len(outs))
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
    for i, x in enumerate(ins):
        if x not in acc:
            if not allow_unused:
                raise _unused(i)
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
