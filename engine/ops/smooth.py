"""Smooth rows: exp, log, sqrt, sin, cos, tanh, sigmoid, softplus, log1p, expm1, atan, atan2.

One block per op: forward (IEEE-safe: ``engine.ieee`` where ``math`` raises), VJP rule, the
hand-written backward step of the hot ops, facts (the ``math`` level's ordinary region where a
textbook formula breaks down), replay templates, row. Transcendental forwards have no numpy
template: numpy's kernels round differently from C's libm (see engine/batch_templates.py).
"""

from __future__ import annotations

import math
from typing import Any

from vetgrad.engine import ieee
from vetgrad.engine.ops.derivatives import SIGMOID_BACKWARD, SOFTPLUS_BACKWARD, TANH_BACKWARD
from vetgrad.engine.ops.row import ANY, POSITIVE, Op

# -- exp -------------------------------------------------------------------------------------------


def _exp(F, g, a, out):
    return g * out


def _exp_back(node: Any) -> None:
    node._a.grad += node.grad * node.data


EXP = Op("exp", 1, "exp", ieee.exp, _exp, "e ** a; exp(1000) = inf", method="exp", fast_back=_exp_back,
         torch_name="torch.exp",
         domain=((-5.0, 5.0),), special=(709.0, 710.0, -745.0),
         exact=lambda mp, a: mp.exp(a), exact_grad=lambda mp, a, out: (out,), ulps=4,
         code={"n": ("exp({a})", ("{g} * {out}",))}, numpy=(None, ("{g} * {out}",)))

# -- log -------------------------------------------------------------------------------------------


def _log(F, g, a, out):
    return F.div(g, a)


LOG = Op("log", 1, "log", ieee.log, _log, "natural log; log(0) = -inf, log(-1) = nan", method="log",
         torch_name="torch.log",
         domain=(POSITIVE,), special=(0.0, -0.0, -1.0),
         exact=lambda mp, a: mp.log(a) if a > 0 else None,
         exact_grad=lambda mp, a, out: None if a <= 0 else (1 / a,),
         numpy=(None, ("div({g}, {a})",)))

# -- sqrt ------------------------------------------------------------------------------------------


def _sqrt(F, g, a, out):
    return F.div(g, 2.0 * out)


SQRT = Op("sqrt", 1, "sqrt", ieee.sqrt, _sqrt, "square root; sqrt'(0) = inf, sqrt(-1) = nan",
          method="sqrt", torch_name="torch.sqrt", domain=(POSITIVE,), special=(0.0, -0.0, -1.0),
          exact=lambda mp, a: mp.sqrt(a) if a >= 0 else None,
          exact_grad=lambda mp, a, out: None if out <= 0 else (1 / (2 * out),), ulps=4,
          numpy=("sqrt({a})", ("div({g}, 2.0 * {out})",)))

# -- sin and cos -----------------------------------------------------------------------------------


def _sin(F, g, a, out):
    return g * F.cos(a)


def _cos(F, g, a, out):
    return g * -F.sin(a)


SIN = Op("sin", 1, "sin", ieee.sin, _sin, "sine; sin(inf) = nan", method="sin",
         torch_name="torch.sin", domain=(ANY,),
         exact=lambda mp, a: mp.sin(a), exact_grad=lambda mp, a, out: (mp.cos(a),), ulps=4,
         numpy=(None, ("{g} * exact_cos({a})",)))
COS = Op("cos", 1, "cos", ieee.cos, _cos, "cosine; cos(inf) = nan", method="cos",
         torch_name="torch.cos", domain=(ANY,),
         exact=lambda mp, a: mp.cos(a), exact_grad=lambda mp, a, out: (-mp.sin(a),), ulps=4,
         numpy=(None, ("{g} * -exact_sin({a})",)))

# -- tanh: the gradient is torch's tanh_backward, (1 - out) * (1 + out) ----------------------------


def _tanh(F, g, a, out):
    return F.call(TANH_BACKWARD, g, out)


def _tanh_back(node: Any) -> None:  # tanh_backward's forward (g, out), inline
    out = node.data
    node._a.grad += node.grad * ((1.0 - out) * (1.0 + out))


_TANH_GRAD = ("{g} * ((1.0 - {out}) * (1.0 + {out}))",)  # tanh_backward's forward, as a template

TANH = Op("tanh", 1, "tanh", math.tanh, _tanh, "hyperbolic tangent; grad 1 - tanh**2", method="tanh",
          fast_back=_tanh_back, torch_name="torch.tanh",
          domain=(ANY,), special=(20.0, -20.0),
          exact=lambda mp, a: mp.tanh(a), exact_grad=lambda mp, a, out: ((1 - out * out, 1),),
          ulps=8, ordinary=lambda form, a: abs(a) <= 9.0,  # e**2x finite; 1 - t**2 >= 6e-8
          code={"n": ("tanh({a})", _TANH_GRAD)}, numpy=(None, _TANH_GRAD))

# -- sigmoid ---------------------------------------------------------------------------------------


def _sigmoid(F, g, a, out):
    return F.call(SIGMOID_BACKWARD, g, out)


SIGMOID = Op("sigmoid", 1, "sigmoid", ieee.sigmoid, _sigmoid, "1 / (1 + exp(-a)); grad s * (1 - s)",
             method="sigmoid", torch_name="torch.sigmoid", domain=(ANY,),
             special=(40.0, -40.0, 1000.0, -1000.0),
             exact=lambda mp, a: 1 / (1 + mp.exp(-a)),
             exact_grad=lambda mp, a, out: (((1 - out) * out, abs(out)),),
             ordinary=lambda form, a: abs(a) <= 16.0,  # e**-x finite; 1 - s >= 1e-7
             numpy=(None, ("{g} * (1.0 - {out}) * {out}",)))

# -- softplus: torch's beta=1, threshold=20 --------------------------------------------------------


def _softplus_fwd(x: float) -> float:
    return ieee.softplus(x)


def _softplus(F, g, a, out):
    return F.call(SOFTPLUS_BACKWARD, g, a)


SOFTPLUS = Op("softplus", 1, "softplus", _softplus_fwd, _softplus,
              "log(1 + exp(a)), linear above a = 20 (torch's beta=1, threshold=20)", method="softplus",
              torch_name="torch.nn.functional.softplus", domain=(ANY,),
              special=(20.0, 20.000001, 19.999999, 15.0, 11.0, -800.0),
              exact=lambda mp, a: a if a > 20 else mp.log1p(mp.exp(a)),
              exact_grad=lambda mp, a, out: (1 if a > 20 else mp.exp(a) / (mp.exp(a) + 1),),
              branch=lambda a: (a > ieee.SOFTPLUS_THRESHOLD, a < ieee.SOFTPLUS_THRESHOLD),
              ordinary=lambda form, a: a <= 700.0,  # log(1 + e**a): e**a finite
              numpy=(None, ("softplus_grad({g}, {a})",)))

# -- added through the row alone (plus an IEEE-safe float function where math raises) --------------


def _log1p(F, g, a, out):
    # log1p_backward: grad / (self + 1)
    return F.div(g, a + 1.0)


LOG1P = Op("log1p", 1, "log1p", ieee.log1p, _log1p, "log(1 + a), exact near 0; log1p(-1) = -inf",
           method="log1p", torch_name="torch.log1p",
           domain=((-0.5, 5.0),), special=(-1.0, -2.0, 1e-17, -0.999999),
           exact=lambda mp, a: mp.log1p(a) if a > -1 else None,
           exact_grad=lambda mp, a, out: None if a <= -1 else (1 / (1 + a),), ulps=4,
           numpy=(None, ("div({g}, {a} + 1.0)",)))


def _expm1(F, g, a, out):
    return g * (out + 1.0)


EXPM1 = Op("expm1", 1, "expm1", ieee.expm1, _expm1, "exp(a) - 1, exact near 0; expm1(1000) = inf",
           method="expm1", torch_name="torch.expm1",
           domain=((-5.0, 5.0),), special=(709.0, 710.0, -40.0, 1e-17, -745.0),
           exact=lambda mp, a: mp.expm1(a), exact_grad=lambda mp, a, out: ((out + 1, abs(out) + 1),),
           ulps=16,  # the gradient out + 1 cancels: torch's expm1 is 1 ulp off C's at -2.5, 11 in it
           numpy=(None, ("{g} * ({out} + 1.0)",)))


def _atan(F, g, a, out):
    return F.div(g, a * a + 1.0)


ATAN = Op("atan", 1, "atan", ieee.atan, _atan, "arctangent; atan(±inf) = ±pi/2", method="atan",
          torch_name="torch.atan", domain=(ANY,),
          special=(1e155, -1e155, 1e-200),
          exact=lambda mp, a: mp.atan(a), exact_grad=lambda mp, a, out: (1 / (1 + a * a),), ulps=4,
          numpy=(None, ("div({g}, {a} * {a} + 1.0)",)))


def _atan2(F, g, a, b, out):
    # atan2_backward: recip = (self * self + other * other).reciprocal(), masked_fill_ to 0 where
    # that sum is 0 (so the origin gets 0, and a nan grad still passes)
    denom = a * a + b * b
    recip = 0.0 if F.val(denom) == 0.0 else F.div(1.0, denom)
    return g * b * recip, g * -a * recip


ATAN2 = Op("atan2", 2, "atan2", ieee.atan2, _atan2,
           "angle of the point (b, a), in [-pi, pi]; the sign of a zero a picks ±pi for b < 0",
           method="atan2", torch_name="torch.atan2",
           special=(0.0, -0.0, 1e-200, 1e200),
           exact=lambda mp, a, b: None if a == 0 and b == 0 else mp.atan2(a, b),
           exact_grad=lambda mp, a, b, out: (None if a == 0 and b == 0
                                             else (b / (a * a + b * b), -a / (a * a + b * b))),
           # torch's masked_fill at the origin: higher derivatives there leak reciprocal's inf as nan
           masks_higher=True, kink=lambda a, b: a * a + b * b == 0.0,
           leaks_nan=lambda a, b: a * a + b * b == 0.0, ulps=4,
           numpy=(None, "atan2_grad({g}, {a}, {b})"))
