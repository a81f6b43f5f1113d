"""An independent high-precision reference (mpmath): each op's exact value at the engine's float
inputs, and its exact local derivatives at those inputs and the engine's own output.

The rules are the op table's (``Op.exact``, ``Op.exact_grad``); this module evaluates them at
160 bits. Judging a derivative from the engine's own output means that rounding inherited from
the op's value (tanh' = 1 - tanh**2 near saturation) is not counted twice: the value is judged on
its own. Returns None where the exact result is not a finite real (the nan/inf class is judged
against torch).
"""

from __future__ import annotations

import math
from typing import Any

import mpmath as mp
from vetgrad.engine.ops import OPS

PREC = 160
Exact = tuple[Any, Any]  # (exact result, scale of its terms, for the rounding noise floor)
_FAILS = (ValueError, ZeroDivisionError, OverflowError)


def _real(v: Any) -> Any:
    """``v`` as a finite mpf, or None."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = mp.mpf(v)
    return v if isinstance(v, mp.mpf) and mp.isfinite(v) else None


def _with_scale(d: Any) -> Exact | None:
    value, scale = d if isinstance(d, tuple) else (d, None)
    value = _real(value)
    if value is None:
        return None
    return value, abs(value) if scale is None else _real(scale)


def exact_value(name: str, inputs: tuple[float, ...], params: tuple[Any, ...]) -> Exact | None:
    """Op ``name``'s exact value at ``inputs`` and its scale, or None (not a finite real)."""
    if not all(math.isfinite(v) for v in inputs):
        return None
    with mp.workprec(PREC):
        try:
            v = _real(OPS[name].exact(mp, *(mp.mpf(x) for x in inputs), *params))
        except _FAILS:
            return None
        return None if v is None else (v, abs(v))


def exact_derivatives(name: str, inputs: tuple[float, ...], out: float,
                      params: tuple[Any, ...]) -> list[Exact] | None:
    """Op ``name``'s exact local derivatives at ``inputs`` given its output ``out``, or None."""
    rule = OPS[name].exact_grad
    if rule is None or not all(math.isfinite(v) for v in inputs) or not math.isfinite(out):
        return None
    with mp.workprec(PREC):
        try:
            ds = rule(mp, *(mp.mpf(x) for x in inputs), mp.mpf(out), *params)
        except _FAILS:
            return None
        if ds is None:
            return None
        exact = [_with_scale(d) for d in ds]
        return None if any(e is None or e[1] is None for e in exact) else exact  # type: ignore[misc]
