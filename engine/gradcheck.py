"""``gradcheck``: compare vetgrad's gradients with central finite differences (no torch needed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from vetgrad.engine.autograd import grad, no_grad
from vetgrad.engine.value import Value, _coerce


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with finite differences."""


@dataclass(frozen=True)
class Mismatch:
    index: int
    point: tuple[float, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return (f"input {self.index}: analytic {self.analytic!r} vs numeric {self.numeric!r} "
                f"(difference {abs(self.analytic - self.numeric):.3g}) at {self.point}")


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[float | Value],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check ``f``'s gradient at ``inputs`` against central differences ``(f(x+h) - f(x-h)) / 2h``.

    ``f`` takes one Value per input and returns a Value. Passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|`` for every input, as torch's gradcheck does.
    On failure raises :class:`GradcheckError` naming each input that disagrees (or returns False
    with ``raise_exception=False``). Choose points away from kinks: finite differences straddle
    them.
    """
    if not callable(f):
        raise TypeError(f"gradcheck needs a callable f, got {type(f).__name__}")
    point = tuple(x.data if isinstance(x, Value) else _coerce(x, "gradcheck input") for x in inputs)
    if not point:
        raise ValueError("gradcheck needs at least one input")
    if not (eps > 0.0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    leaves = [Value(x) for x in point]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value, got {type(out).__name__}")
    if not math.isfinite(out.data):
        raise ValueError(f"f is not finite at {point} (value {out.data}); pick another point")
    analytic = [0.0 if g is None else g.data
                for g in grad(out, leaves, allow_unused=True)]

    def evaluate(values: list[float]) -> float:
        with no_grad():
            return f(*[Value(x) for x in values]).data

    mismatches = []
    for i, x in enumerate(point):
        up, down = list(point), list(point)
        up[i], down[i] = x + eps, x - eps
        numeric = (evaluate(up) - evaluate(down)) / (2.0 * eps)
        a = analytic[i]
        if not abs(a - numeric) <= atol + rtol * abs(numeric):
            mismatches.append(Mismatch(i, point, a, numeric))
    if mismatches and raise_exception:
        details = "\n  ".join(str(m) for m in mismatches)
        raise GradcheckError(f"gradcheck failed for {len(mismatches)} of {len(point)} inputs:\n  "
                             f"{details}")
    return not mismatches
