"""Verdicts on one number: the engine's result against torch's, and when they differ, against the
exact reference. Two levels (see the README): default and ``strict``."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from vetgrad.conformance.judging.numerics import float_class, ulp_distance
from vetgrad.conformance.subject.execute import identical

EPS = 2.0**-52
CLOSE_ULPS = 4          # this close to torch is a pass with no further question
# Default mode fails what no correct implementation explains: a relative error of 1e-6. The bound
# sits at half of it, so that the rounding of an injected 1e-6 error cannot slip under it.
DEFAULT_REL = 5e-7
STRICT_FLOOR = 16       # strict mode: rounding noise allowed, in eps of the terms' scale
TINY = 2.0**-1022 * 8   # below this, differences are judged in ulps (subnormal precision)

OK, IMPRECISE, FAIL = "ok", "imprecise", "fail"

# The rounding unit of the engine under test, once seen (float32 storage: 2**-23): the noise
# floors scale with it outside strict mode, so correct narrow arithmetic is no failure.
_ENGINE_EPS = [EPS]


def eps() -> float:
    return _ENGINE_EPS[-1]


@contextmanager
def rounding(engine_eps: float) -> Iterator[None]:
    """Judge with the rounding unit ``engine_eps`` (never finer than float64's)."""
    _ENGINE_EPS.append(max(engine_eps, EPS))
    try:
        yield
    finally:
        _ENGINE_EPS.pop()


def judge(mine: float, torch_result: float, exact: Callable[[], Any], strict: bool) -> tuple[str, float]:
    """(verdict, ulps from torch). ``exact()`` lazily gives (exact value, scale) or None."""
    if identical(mine, torch_result):
        return OK, 0.0  # the common case, without the bit twiddling
    ulps = ulp_distance(mine, torch_result)
    cm, ct = float_class(mine), float_class(torch_result)
    if cm == ct and ulps <= CLOSE_ULPS:
        return OK, ulps
    ref = exact()
    if cm != ct:
        # a narrow engine's rounding may reach 0 where float64's does not (x - c, c narrowed)
        narrow = eps() > EPS and {cm, ct} <= {"+0", "-0", "finite"}
        if ref is not None and (float_class(float(ref[0])) == cm or narrow) and \
                (_within(mine, ref, strict, torch_result) or _closer(mine, torch_result, ref)):
            return IMPRECISE, ulps
        return FAIL, ulps
    if abs(mine) < TINY and abs(torch_result) < TINY:
        return (IMPRECISE if ulps <= 64 else FAIL), ulps
    if not strict and abs(mine - torch_result) <= DEFAULT_REL * abs(torch_result):
        return IMPRECISE, ulps
    if ref is not None and _within(mine, ref, strict, torch_result):
        return IMPRECISE, ulps
    if strict and ref is None and abs(mine - torch_result) <= 1e-12 * abs(torch_result):
        return IMPRECISE, ulps
    if ref is not None and _closer(mine, torch_result, ref):
        return IMPRECISE, ulps  # torch is the less accurate one (sigmoid'(59): 0.0, exact 2.4e-26)
    return FAIL, ulps


def _closer(mine: float, torch_result: float, ref: Any) -> bool:
    """Whether the engine's number is at least as close to the exact value as torch's."""
    exact = ref[0]
    try:
        return abs(mine - exact) <= abs(torch_result - exact)
    except (TypeError, ValueError, OverflowError):
        return False


def _within(mine: float, ref: Any, strict: bool, torch_result: float) -> bool:
    exact, scale = ref
    err = abs(mine - exact)
    noise = STRICT_FLOOR * (EPS if strict else eps()) * scale + 4 * 2.0**-1074
    if strict:
        torch_err = abs(torch_result - exact) if math.isfinite(torch_result) else 0
        return err <= max(2 * torch_err, noise)
    return err <= DEFAULT_REL * abs(exact) + noise


def float_mismatch(a: float, b: float) -> bool:
    """Whether two results differ beyond a few ulps and 5e-7 relative, or in their float class."""
    if a == b and a != 0.0:  # the usual case, without the sign and nan tests
        return False
    if identical(a, b):
        return False
    if float_class(a) != float_class(b):
        return True
    return ulp_distance(a, b) > CLOSE_ULPS and abs(a - b) > DEFAULT_REL * abs(b)

