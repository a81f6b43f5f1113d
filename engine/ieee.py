"""IEEE-754 float64 functions that never raise: they return what PyTorch (C99 libm) returns.

Python's ``math`` raises ``ValueError``/``OverflowError`` and ``/`` raises ``ZeroDivisionError``
where torch returns inf or nan, and ``**`` can even return a complex number. Every forward and
derivative in the op table goes through these functions instead.
"""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan
_isinf = math.isinf
_copysign = math.copysign


def div(a: float, b: float) -> float:
    """``a / b`` with IEEE results for a zero divisor (±inf, or nan for 0/0 and nan/0)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return NAN
        return _copysign(INF, a) * _copysign(1.0, b)


def _is_odd_integer(y: float) -> bool:
    return y.is_integer() and math.fmod(y, 2.0) != 0.0 if not _isinf(y) else False


def pow(x: float, y: float) -> float:
    """C99 ``pow``: overflow gives ±inf, 0**negative gives ±inf, negative**fraction gives nan."""
    try:
        return math.pow(x, y)
    except OverflowError:
        return -INF if x < 0.0 and _is_odd_integer(y) else INF
    except ValueError:
        if x == 0.0:  # y < 0
            return _copysign(INF, x) if _is_odd_integer(y) else INF
        return NAN


def pow_scalar(x: float, exponent: float) -> float:
    """torch's ``pow(Tensor, Scalar)``. Its kernel computes exponents 2, 3, -1 and -2 as ``x*x``,
    ``x*x*x``, ``1/x`` and ``1/(x*x)`` (correctly rounded where C ``pow`` may be 1 ulp off), and
    0.5 and -0.5 through sqrt and rsqrt (so ``(-inf) ** 0.5`` is nan, not C's inf, and
    ``(-0.0) ** -0.5`` is -inf); other exponents are C ``pow``."""
    if exponent == 2.0:
        return x * x
    if exponent == 3.0:
        return x * x * x
    if exponent == 0.5:
        return sqrt(x)
    if exponent == -1.0:
        return div(1.0, x)
    if exponent == -2.0:
        return div(1.0, x * x)
    if exponent == -0.5:
        return div(1.0, sqrt(x))
    return pow(x, exponent)


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def log(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -INF
    return NAN  # negative or nan


def sqrt(x: float) -> float:
    if x >= 0.0:  # keeps -0.0 -> -0.0
        return math.sqrt(x)
    return NAN


_LOG1P_SUBNORMAL = 2.0**-1021  # below this x / 2 is subnormal


def log1p(x: float) -> float:
    """log(1 + x), exact near 0; -inf at -1 and nan below (math.log1p raises there). Where x / 2
    is subnormal, torch's kernel (SLEEF's: 2 * x / (2 + x) in double-double) keeps only what
    x * 0.5 rounds to, and a negative zero becomes +0.0: log1p(5e-324) is 0.0, as here."""
    if x > -1.0:
        if x != 0.0 and -_LOG1P_SUBNORMAL < x < _LOG1P_SUBNORMAL:
            return 0.0 + 2.0 * (x * 0.5)
        return math.log1p(x)
    if x == -1.0:
        return -INF
    return NAN  # below -1, or nan


def expm1(x: float) -> float:
    """exp(x) - 1, exact near 0; inf on overflow (math.expm1 raises)."""
    try:
        return math.expm1(x)
    except OverflowError:
        return INF


atan = math.atan  # never raises: ±pi/2 at ±inf, nan for nan
atan2 = math.atan2  # C99 atan2 for every pair, signed zeros and infinities included


def sin(x: float) -> float:
    return math.sin(x) if not _isinf(x) else NAN


def cos(x: float) -> float:
    return math.cos(x) if not _isinf(x) else NAN


def sign(x: float) -> float:
    """torch.sgn for real input: -1, 0 or 1; 0 for ±0 and for nan."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def fmod(a: float, b: float) -> float:
    """C ``fmod``: nan for an infinite dividend or a zero divisor, ``a`` for an infinite divisor."""
    if _isinf(a) or b == 0.0 or a != a or b != b:
        return NAN
    return math.fmod(a, b)


def floor(x: float) -> float:
    """Float floor that keeps inf, nan and the sign of zero."""
    if _isinf(x) or x != x:
        return x
    f = float(math.floor(x))
    return _copysign(f, x) if f == 0.0 else f


def floor_divide(a: float, b: float) -> float:
    """torch's ``div(a, b, rounding_mode='floor')`` for float64 (c10 ``div_floor_floating``)."""
    if b == 0.0:
        return div(a, b)
    mod = fmod(a, b)
    quotient = (a - mod) / b
    if mod != 0.0 and (b < 0.0) != (mod < 0.0):
        quotient -= 1.0
    if quotient != 0.0:
        result = floor(quotient)
        if quotient - result > 0.5:
            result += 1.0
        return result
    return _copysign(0.0, a / b)


def remainder(a: float, b: float) -> float:
    """torch's ``remainder`` for float64: the sign follows the divisor; differs from Python's ``%``
    in the sign of a zero result and in returning nan instead of raising for b == 0."""
    mod = fmod(a, b)
    if mod != 0.0 and (b < 0.0) != (mod < 0.0):
        mod += b
    return mod


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + exp(-x))


SOFTPLUS_THRESHOLD = 20.0  # torch.nn.functional.softplus default (beta=1)


def softplus(x: float) -> float:
    if x > SOFTPLUS_THRESHOLD:
        return x
    return math.log1p(exp(x))


def maximum(a: float, b: float) -> float:
    """torch.maximum: nan if either is nan."""
    if a != a or b != b:
        return NAN
    return a if a >= b else b


def minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return a if a <= b else b


def clamp(x: float, lo: float | None, hi: float | None) -> float:
    """torch.clamp: nan stays nan, a nan bound gives nan; with lo > hi every value becomes hi."""
    if x != x:
        return x
    if lo != lo or hi != hi:
        return NAN
    if lo is not None and x < lo:
        x = lo
    if hi is not None and x > hi:
        x = hi
    return x
