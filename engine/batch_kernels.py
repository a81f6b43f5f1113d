"""The numpy helpers the batched replay's code calls (:mod:`engine.batch_templates` names them):
each op's branches as ``where`` on whole columns, and the row's own float function mapped over
the elements where numpy's kernel would round differently. Imported only by a batched replay:
this module needs numpy, ``engine`` does not.

A column is a 1-d float64 array or, for a value that is the same in every row (a constant of the
trace, the root's gradient 1.0), a scalar; numpy's broadcasting mixes the two. Each helper is its
row's float function bit for bit, per element (tests/test_batched.py checks them on an edge grid).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from vetgrad.engine import ieee
from vetgrad.engine.ops import FLOAT

f64 = np.float64
where = np.where
div = np.true_divide  # IEEE: ±inf or nan for a zero divisor, never ZeroDivisionError
sqrt = np.sqrt  # correctly rounded, -0.0 kept, nan below 0: ieee.sqrt
fmod = np.fmod  # C fmod, as ieee.fmod
floor = np.floor
copysign = np.copysign
NAN = math.nan


def map1(fn: Callable[..., float], a: Any, *params: Any) -> Any:
    """``fn`` (a row's float function) on every element of column ``a``: exact, one Python call
    per element."""
    if isinstance(a, np.ndarray) and a.ndim:
        return np.fromiter(map(fn, a.tolist(), *([p] * a.size for p in params)), f64, a.size)
    return f64(fn(float(a), *params))


def map2(fn: Callable[..., float], a: Any, b: Any, *params: Any) -> Any:
    """``fn(a_i, b_i, *params)`` on every row (a scalar operand is the same in every row)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return f64(fn(float(a), float(b), *params))
    a, b = np.broadcast_arrays(a, b)
    return np.fromiter(map(fn, a.tolist(), b.tolist(), *([p] * a.size for p in params)), f64,
                       a.size)


def _rows(*columns: Any) -> tuple[bool, list[list[float]]]:
    """Whether every column is a scalar, and the columns as lists of floats (broadcast)."""
    arrays = np.broadcast_arrays(*columns)
    scalar = arrays[0].ndim == 0
    return scalar, [[float(x)] if scalar else x.tolist() for x in arrays]


def vjp1(vjp: Callable[..., Any], g: Any, a: Any, out: Any, *params: Any) -> Any:
    """A unary row's VJP rule on floats, row by row (ops with no numpy template)."""
    scalar, (gs, as_, outs) = _rows(g, a, out)
    got = np.array([vjp(FLOAT, gi, ai, oi, *params) for gi, ai, oi in zip(gs, as_, outs)], f64)
    return got[0] if scalar else got


def vjp2(vjp: Callable[..., Any], g: Any, a: Any, b: Any, out: Any, *params: Any) -> Any:
    """A binary row's VJP rule on floats, row by row: the pair of gradient columns."""
    scalar, (gs, as_, bs, outs) = _rows(g, a, b, out)
    got = np.array([vjp(FLOAT, *row, *params) for row in zip(gs, as_, bs, outs)], f64)
    got = got.reshape(len(gs), 2)
    return (got[0, 0], got[0, 1]) if scalar else (got[:, 0], got[:, 1])


def exact_cos(a: Any) -> Any:
    return map1(ieee.cos, a)


def exact_sin(a: Any) -> Any:
    return map1(ieee.sin, a)


def relu(a: Any) -> Any:
    return where(a < 0.0, 0.0, a)  # keeps -0.0 and nan, as torch.relu


def sgn(a: Any) -> Any:
    """torch.sgn: -1, 0 or 1; 0 for ±0 and nan (numpy's sign gives nan for nan)."""
    return where(a > 0.0, 1.0, where(a < 0.0, -1.0, 0.0))


def maximum(a: Any, b: Any) -> Any:
    """ieee.maximum: nan if either is nan, ``a`` on a tie (so maximum(-0.0, 0.0) is -0.0)."""
    return where(a >= b, a, where(a < b, b, NAN))


def minimum(a: Any, b: Any) -> Any:
    return where(a <= b, a, where(a > b, b, NAN))


def maximum_grad(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """A tie splits the gradient in halves; a nan on either side gives both the whole."""
    tie, half = a == b, g * 0.5
    return where(tie, half, where(a < b, 0.0, g)), where(tie, half, where(a > b, 0.0, g))


def minimum_grad(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
    tie, half = a == b, g * 0.5
    return where(tie, half, where(a > b, 0.0, g)), where(tie, half, where(a < b, 0.0, g))


def clamp(x: Any, lo: float | None, hi: float | None) -> Any:
    """ieee.clamp: a nan bound gives nan; with lo > hi every value becomes hi."""
    if (lo is not None and lo != lo) or (hi is not None and hi != hi):
        return where(x != x, x, NAN)
    r = x
    if lo is not None:
        r = where(x < lo, lo, r)
    if hi is not None:
        r = where(r > hi, hi, r)
    return r


def clamp_grad(g: Any, a: Any, lo: float | None, hi: float | None) -> Any:
    inside = a == a
    if lo is not None:
        inside = inside & (a >= lo)
    if hi is not None:
        inside = inside & (a <= hi)
    return where(inside, g, 0.0)


def pow_scalar(x: Any, e: float) -> Any:
    """ieee.pow_scalar: torch's exponents 2, 3, ±0.5, -1 and -2 as products, quotients and
    sqrt (exact in numpy too); any other exponent is C pow on every element."""
    if e == 2.0:
        return x * x
    if e == 3.0:
        return x * x * x
    if e == 0.5:
        return sqrt(x)
    if e == -1.0:
        return div(1.0, x)
    if e == -2.0:
        return div(1.0, x * x)
    if e == -0.5:
        return div(1.0, sqrt(x))
    return map1(ieee.pow, x, e)


def pow_scalar_grad(g: Any, a: Any, e: float) -> Any:
    return 0.0 if e == 0.0 else g * (e * pow_scalar(a, e - 1.0))


def pow_grad(g: Any, a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """The pow row's rule: 0 where the exponent is 0; ``g * 0.0`` (nan for an infinite g) where
    the base is 0 and the exponent >= 0."""
    ga = where(b == 0.0, 0.0, g * (b * map2(ieee.pow, a, b - 1.0)))
    gb = where((a == 0.0) & (b >= 0.0), g * 0.0, g * (out * map1(ieee.log, a)))
    return ga, gb


def atan2_grad(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
    denom = a * a + b * b
    recip = where(denom == 0.0, 0.0, div(1.0, denom))
    return g * b * recip, g * -a * recip


def softplus_grad(g: Any, a: Any) -> Any:
    z = map1(ieee.exp, a)
    return where(a > ieee.SOFTPLUS_THRESHOLD, g, div(g * z, z + 1.0))


def remainder(a: Any, b: Any) -> Any:
    """ieee.remainder (torch's): the sign follows the divisor; a zero keeps fmod's sign (numpy's
    remainder gives it the divisor's)."""
    m = fmod(a, b)
    return where((m != 0.0) & ((b < 0.0) != (m < 0.0)), m + b, m)


def floor_divide(a: Any, b: Any) -> Any:
    """ieee.floor_divide (c10's div_floor_floating), on whole columns."""
    m = fmod(a, b)
    q = div(a - m, b)
    q = where((m != 0.0) & ((b < 0.0) != (m < 0.0)), q - 1.0, q)
    r = floor(q)
    r = where(q - r > 0.5, r + 1.0, r)
    r = where(q != 0.0, r, copysign(0.0, div(a, b)))
    return where(b == 0.0, div(a, b), r)


# -- numpy's own kernels (``batch(..., exact=False)``): faster, within FAST_ULPS of C's ------------

_LOG1P_SUBNORMAL = 2.0**-1021


def _fast_log1p(x: Any) -> Any:
    # ieee.log1p's subnormal rule (torch's: 0.0 + 2.0 * (x * 0.5)), which numpy's log1p lacks
    tiny = (x != 0.0) & (x > -_LOG1P_SUBNORMAL) & (x < _LOG1P_SUBNORMAL)
    return where(tiny, 0.0 + 2.0 * (x * 0.5), np.log1p(x))


def _fast_sigmoid(x: Any) -> Any:
    return div(1.0, 1.0 + np.exp(-x))


def _fast_softplus(x: Any) -> Any:
    return where(x > ieee.SOFTPLUS_THRESHOLD, x, np.log1p(np.exp(x)))


FAST: dict[str, Callable[..., Any]] = {
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sin": np.sin, "cos": np.cos,
    "log1p": _fast_log1p, "expm1": np.expm1, "atan": np.arctan, "atan2": np.arctan2,
    "pow": np.power, "sigmoid": _fast_sigmoid, "softplus": _fast_softplus,
}
"""Forwards of the ops that ``exact=False`` computes with numpy's kernels instead of C's, by op."""

FAST_ULPS: dict[str, int] = {"exp": 2, "log": 2, "tanh": 4, "sin": 2, "cos": 2, "log1p": 2,
                             "expm1": 2, "atan": 2, "atan2": 2, "pow": 2, "sigmoid": 4,
                             "softplus": 4}
"""How far (ulps) each of :data:`FAST` may be from the row's float function, where both are
finite; nan, ±inf and signed zeros are the row's. Measured on 600,000 arguments (numpy 2.4.6,
AVX-512: at most 1 ulp, tanh, sigmoid and softplus 2-3) and held by tests/test_batched.py."""

NAMESPACE: dict[str, Any] = {
    name: globals()[name] for name in (
        "f64", "where", "div", "sqrt", "map1", "map2", "vjp1", "vjp2", "exact_cos", "exact_sin",
        "relu", "sgn", "maximum", "minimum", "maximum_grad", "minimum_grad", "clamp",
        "clamp_grad", "pow_scalar", "pow_scalar_grad", "pow_grad", "atan2_grad", "softplus_grad",
        "remainder", "floor_divide")}
NAMESPACE.update(inf=math.inf, nan=math.nan)
NAMESPACE.update({f"fast_{name}": fn for name, fn in FAST.items()})
"""The names the batched replay's code uses."""
