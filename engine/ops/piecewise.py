"""Piecewise rows: maximum, minimum, abs, relu, leaky_relu, clamp. torch's conventions decide their
kinks and ties (docs/ladder.md): relu'(0) = 0, abs'(0) = 0, ties split the gradient in halves,
clamp's bounds are inclusive; ``masks``, ``branch`` and ``kink`` tell the harness where.

One block per op: forward, VJP rule, hand-written backward step of the hot ops, facts, replay
templates, row.
"""

from __future__ import annotations

from typing import Any

from vetgrad.engine import ieee
from vetgrad.engine.ops.derivatives import LEAKY_RELU_BACKWARD, RELU_BACKWARD, SGN
from vetgrad.engine.ops.row import ANY, Op

_KINK0 = (0.0, -0.0)


def _sign(x: float) -> int:
    return (x > 0.0) - (x < 0.0)


def _pick(source: Any, items: tuple[Any, ...]) -> Any:
    # a parameter sampler draws from a conformance ``Source`` (``integer(lo, hi)``, ...)
    return items[source.integer(0, len(items) - 1)]


# -- maximum and minimum: a tie splits the gradient ------------------------------------------------


def _maximum(F, g, a, b, out):
    # max/min_backward: ties split the gradient; a nan on either side gives both the full grad.
    av, bv = F.val(a), F.val(b)
    if av == bv:
        half = g * 0.5
        return half, half
    return (0.0 if av < bv else g), (0.0 if av > bv else g)


def _minimum(F, g, a, b, out):
    av, bv = F.val(a), F.val(b)
    if av == bv:
        half = g * 0.5
        return half, half
    return (0.0 if av > bv else g), (0.0 if av < bv else g)


def _exact_extremum_grads(a: Any, b: Any, larger: bool) -> tuple[Any, Any]:
    if a == b:
        return 0.5, 0.5
    first = (a > b) == larger
    return (1, 0) if first else (0, 1)


def _extremum_branch(a: float, b: float) -> tuple[Any, ...]:
    return (a != a, b != b, (a > b) - (a < b))


MAXIMUM = Op("maximum", 2, "maximum", ieee.maximum, _maximum,
             "larger of a and b; a tie splits the gradient in halves; nan propagates", method="maximum",
             torch_name="torch.maximum", special=(0.0, 1.0),
             exact=lambda mp, a, b: max(a, b),
             exact_grad=lambda mp, a, b, out: _exact_extremum_grads(a, b, larger=True),
             masks=(0, 1), masks_higher=True, branch=_extremum_branch, kink=lambda a, b: a == b,
             numpy=("maximum({a}, {b})", "maximum_grad({g}, {a}, {b})"))
MINIMUM = Op("minimum", 2, "minimum", ieee.minimum, _minimum,
             "smaller of a and b; a tie splits the gradient in halves; nan propagates", method="minimum",
             torch_name="torch.minimum", special=(0.0, 1.0),
             exact=lambda mp, a, b: min(a, b),
             exact_grad=lambda mp, a, b, out: _exact_extremum_grads(a, b, larger=False),
             masks=(0, 1), masks_higher=True, branch=_extremum_branch, kink=lambda a, b: a == b,
             numpy=("minimum({a}, {b})", "minimum_grad({g}, {a}, {b})"))

# -- abs: gradient 0 at 0 (torch.sgn) --------------------------------------------------------------


def _abs_fwd(a: float) -> float:
    return abs(a)


def _abs(F, g, a, out):
    return g * F.call(SGN, a)


ABS = Op("abs", 1, "abs", _abs_fwd, _abs, "|a|; gradient 0 at 0 (torch.sgn)",
         dunder="abs", method="abs", torch_name="torch.abs",
         domain=(ANY,), special=_KINK0,
         exact=lambda mp, a: abs(a), exact_grad=lambda mp, a, out: (mp.sign(a),),
         masks_higher=True, branch=lambda a: (_sign(a),), kink=lambda a: a == 0.0,
         code={"n": ("abs({a})", ("{g} * sign({a})",))},
         numpy=("abs({a})", ("{g} * sgn({a})",)))

# -- relu: relu'(0) = 0 ----------------------------------------------------------------------------


def _relu_fwd(a: float) -> float:
    return 0.0 if a < 0.0 else a  # keeps -0.0 and nan, as torch.relu does


def _relu(F, g, a, out):
    return F.call(RELU_BACKWARD, g, out)


def _relu_back(node: Any) -> None:  # relu_backward's forward (g, out), inline
    node._a.grad += 0.0 if node.data <= 0.0 else node.grad


RELU = Op("relu", 1, "ReLU", _relu_fwd, _relu, "max(a, 0); relu'(0) = 0", method="relu",
          fast_back=_relu_back, torch_name="torch.relu",
          domain=(ANY,), special=_KINK0,
          exact=lambda mp, a: a if a > 0 else mp.mpf(0),
          exact_grad=lambda mp, a, out: (1 if out > 0 else 0,),
          masks=(0,), masks_higher=True, branch=lambda a: (_sign(a),), kink=lambda a: a == 0.0,
          code={"n": ("0.0 if {a} < 0.0 else {a}", ("0.0 if {out} <= 0.0 else {g}",))},
          numpy=("relu({a})", ("where({out} <= 0.0, 0.0, {g})",)))

# -- leaky_relu: gradient slope at 0 ---------------------------------------------------------------

SLOPES = (0.01, 0.1, 0.2, 2.0)


def _leaky_relu_fwd(x: float, slope: float) -> float:
    return x if x > 0.0 else x * slope


def _leaky_relu(F, g, a, out, slope):
    return F.call(LEAKY_RELU_BACKWARD, g, a, slope)


def _sample_slope(source: Any) -> tuple[float]:
    return (_pick(source, SLOPES),)


LEAKY_RELU = Op("leaky_relu", 1, "leaky_relu", _leaky_relu_fwd, _leaky_relu,
                "a if a > 0 else slope * a; gradient slope at 0", method="leaky_relu",
                params=(("slope", 0.01),), sample_params=_sample_slope, sweep_params=((0.01,), (0.2,)),
                torch_name="torch.nn.functional.leaky_relu", domain=(ANY,), special=_KINK0,
                exact=lambda mp, a, s: a if a > 0 else a * s,
                exact_grad=lambda mp, a, out, s: (1 if a > 0 else mp.mpf(s),),
                branch=lambda a, s: (_sign(a),),
                numpy=("where({a} > 0.0, {a}, {a} * {p0})", ("where({a} > 0.0, {g}, {g} * {p0})",)))

# -- clamp: inclusive bounds, either may be None ---------------------------------------------------

CLAMP_BOUNDS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def _clamp(F, g, a, out, lo, hi):
    # clamp_backward: where(lo <= a <= hi, grad, 0), a mask of a (so no path back to a); the
    # bounds are inclusive (subgradient 1 at lo and hi); nan gets 0.
    av = F.val(a)
    inside = av == av and (lo is None or av >= lo) and (hi is None or av <= hi)
    return g if inside else 0.0


def _sample_clamp(source: Any) -> tuple[float | None, float | None]:
    lo, hi = _pick(source, CLAMP_BOUNDS), _pick(source, CLAMP_BOUNDS)
    form = source.integer(0, 3)  # both bounds, only lo, only hi, or (rarely) lo > hi
    if form == 1:
        return (min(lo, hi), None)
    if form == 2:
        return (None, max(lo, hi))
    return (min(lo, hi), max(lo, hi)) if form == 0 or lo == hi else (max(lo, hi), min(lo, hi))


def _exact_clamp(mp: Any, a: Any, lo: float | None, hi: float | None) -> Any:
    if lo is not None and a < lo:
        a = mp.mpf(lo)
    if hi is not None and a > hi:
        a = mp.mpf(hi)
    return a


def _inside(a: Any, lo: float | None, hi: float | None) -> bool:
    return (lo is None or a >= lo) and (hi is None or a <= hi)


def _clamp_branch(x: float, lo: float | None, hi: float | None) -> tuple[Any, ...]:
    return tuple(None if bound is None else (x > bound) - (x < bound) for bound in (lo, hi))


CLAMP = Op("clamp", 1, "clamp", ieee.clamp, _clamp,
           "min(max(a, lo), hi); either bound may be None; the bounds are inclusive (gradient 1)",
           method="clamp", params=(("lo", None), ("hi", None)), sample_params=_sample_clamp,
           sweep_params=((-1.0, 1.0), (0.0, None), (None, 0.5), (1.0, -1.0)),
           torch_name="torch.clamp", domain=(ANY,),
           exact=_exact_clamp, exact_grad=lambda mp, a, out, lo, hi: (1 if _inside(a, lo, hi) else 0,),
           masks=(0,), masks_higher=True, branch=_clamp_branch,
           numpy=("clamp({a}, {p0}, {p1})", ("clamp_grad({g}, {a}, {p0}, {p1})",)))
