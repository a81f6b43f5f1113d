"""An independent high-precision reference (mpmath): each op's exact value at the engine's float
inputs, and its exact local derivatives at those inputs and the engine's own output.

Judging a derivative from the engine's own output means that rounding inherited from the op's value
(tanh' = 1 - tanh**2 near saturation) is not counted twice: the value is judged on its own.
Returns None where the exact result is not a finite real (the nan/inf class is judged against torch).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import mpmath as mp

CTX = mp.mp.clone() if hasattr(mp.mp, "clone") else mp.mp
PREC = 160
Exact = tuple[Any, Any]  # (exact result, scale of its terms, for the rounding noise floor)


def _m(x: float) -> Any:
    return mp.mpf(x)


def _same(v: Any) -> Exact:
    return v, abs(v)


def _values() -> dict[str, Callable[..., Any]]:
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b if b != 0 else None,
        "pow": lambda a, b: mp.power(a, b) if a > 0 or (a < 0 and b == int(b)) else None,
        "pow_scalar": lambda a, e: mp.power(a, e) if a > 0 or (a < 0 and e == int(e)) else None,
        "maximum": max, "minimum": min,
        "floordiv": lambda a, b: mp.floor(a / b) if b != 0 else None,
        "mod": lambda a, b: a - b * mp.floor(a / b) if b != 0 else None,
        "neg": lambda a: -a, "abs": abs, "exp": mp.exp,
        "log": lambda a: mp.log(a) if a > 0 else None,
        "sqrt": lambda a: mp.sqrt(a) if a >= 0 else None,
        "sin": mp.sin, "cos": mp.cos, "tanh": mp.tanh,
        "sigmoid": lambda a: 1 / (1 + mp.exp(-a)),
        "relu": lambda a: a if a > 0 else mp.mpf(0),
        "leaky_relu": lambda a, s: a if a > 0 else a * s,
        "softplus": lambda a: a if a > 20 else mp.log1p(mp.exp(a)),
        "clamp": lambda a, lo, hi: _clamp(a, lo, hi),
    }


def _clamp(a: Any, lo: float | None, hi: float | None) -> Any:
    if lo is not None and a < lo:
        a = _m(lo)
    if hi is not None and a > hi:
        a = _m(hi)
    return a


def _derivatives(name: str, x: list[Any], out: Any, params: tuple[Any, ...]) -> list[Exact] | None:
    one, zero = mp.mpf(1), mp.mpf(0)
    a = x[0]
    b = x[1] if len(x) > 1 else None
    if name == "add":
        return [_same(one), _same(one)]
    if name == "sub":
        return [_same(one), _same(-one)]
    if name == "mul":
        return [_same(b), _same(a)]
    if name == "div":
        return None if b == 0 else [_same(1 / b), _same(-(a / b) / b)]
    if name in ("pow", "pow_scalar"):
        e = b if name == "pow" else _m(params[0])
        if a <= 0 and not (a < 0 and e == int(e)) and not (a == 0 and (e == 0 or e >= 1)):
            return None
        da = zero if e == 0 else e * mp.power(a, e - 1)
        if name == "pow_scalar":
            return [_same(da)]
        db = zero if (a == 0 and e >= 0) else (out * mp.log(a) if a > 0 else None)
        return None if db is None else [_same(da), _same(db)]
    if name in ("maximum", "minimum"):
        if a == b:
            return [_same(mp.mpf(0.5)), _same(mp.mpf(0.5))]
        first = (a > b) == (name == "maximum")
        return [_same(one if first else zero), _same(zero if first else one)]
    if name == "mod":
        return None if b == 0 else [_same(one), _same(-mp.floor(a / b))]
    if name == "neg":
        return [_same(-one)]
    if name == "abs":
        return [_same(mp.sign(a))]
    if name == "exp":
        return [_same(out)]
    if name == "log":
        return None if a <= 0 else [_same(1 / a)]
    if name == "sqrt":
        return None if out <= 0 else [_same(1 / (2 * out))]
    if name == "sin":
        return [_same(mp.cos(a))]
    if name == "cos":
        return [_same(-mp.sin(a))]
    if name == "tanh":
        return [(1 - out * out, one)]
    if name == "sigmoid":
        return [((1 - out) * out, abs(out))]
    if name == "relu":
        return [_same(one if out > 0 else zero)]
    if name == "leaky_relu":
        return [_same(one if a > 0 else _m(params[0]))]
    if name == "softplus":
        if a > 20:
            return [_same(one)]
        z = mp.exp(a)
        return [_same(z / (z + 1))]
    if name == "clamp":
        lo, hi = params
        inside = (lo is None or a >= lo) and (hi is None or a <= hi)
        return [_same(one if inside else zero)]
    return None


def exact_value(name: str, inputs: tuple[float, ...], params: tuple[Any, ...]) -> Exact | None:
    if not all(math.isfinite(v) for v in inputs):
        return None
    with mp.workprec(PREC):
        fn = _values()[name]
        extra = tuple(params) if name in ("leaky_relu", "clamp", "pow_scalar") else ()
        try:
            v = fn(*(_m(v) for v in inputs), *extra)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        if v is None or not isinstance(v, mp.mpf) or not mp.isfinite(v):
            return None
        return v, abs(v)


def exact_derivatives(name: str, inputs: tuple[float, ...], out: float,
                      params: tuple[Any, ...]) -> list[Exact] | None:
    if not all(math.isfinite(v) for v in inputs) or not math.isfinite(out):
        return None
    with mp.workprec(PREC):
        try:
            ds = _derivatives(name, [_m(v) for v in inputs], _m(out), tuple(params))
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        if ds is None or not all(isinstance(d, mp.mpf) and mp.isfinite(d) for d, _ in ds):
            return None
        return ds
