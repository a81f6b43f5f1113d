"""Arithmetic rows: ``+ - * /``, negation, powers, floor division and remainder.

One block per op: its float forward, VJP rule, the backward steps written out by hand for the hot
ops (``fast_back``; a node with a constant operand, ConstOp, keeps the Value in ``node._a`` and the
number in ``node._b``), the facts the harness reads, the replay templates, and the row. Rules
follow ``tools/autograd/derivatives.yaml`` of PyTorch, in its order of floating-point operations.
"""

from __future__ import annotations

import math
from typing import Any

from vetgrad.engine import ieee
from vetgrad.engine.ops.derivatives import DIV_FLOOR
from vetgrad.engine.ops.row import ANY, POSITIVE, Op

# -- add -------------------------------------------------------------------------------------------


def _add_fwd(a: float, b: float) -> float:
    return a + b


def _add(F, g, a, b, out):
    return g, g


def _add_back(node: Any) -> None:
    g = node.grad
    node._a.grad += g
    node._b.grad += g


def _add_const_back(node: Any) -> None:  # c + x and x + c
    node._a.grad += node.grad


ADD = Op("add", 2, "+", _add_fwd, _add, "a + b", dunder="add",
         fast_back=_add_back, const_fast_back=(_add_const_back, _add_const_back),
         torch_name="torch.add",
         exact=lambda mp, a, b: a + b, exact_grad=lambda mp, a, b, out: (1, 1),
         code={"nn": ("{a} + {b}", ("{g}", "{g}")), "nc": ("{a} + {c}", ("{g}",)),
               "cn": ("{c} + {a}", ("{g}",))},
         numpy=("{a} + {b}", ("{g}", "{g}")))

# -- sub -------------------------------------------------------------------------------------------


def _sub_fwd(a: float, b: float) -> float:
    return a - b


def _sub(F, g, a, b, out):
    return g, -g


def _sub_back(node: Any) -> None:
    g = node.grad
    node._a.grad += g
    node._b.grad += -g


def _rsub_const_back(node: Any) -> None:  # c - x
    node._a.grad += -node.grad


def _sub_const_back(node: Any) -> None:  # x - c
    node._a.grad += node.grad


SUB = Op("sub", 2, "-", _sub_fwd, _sub, "a - b", dunder="sub",
         fast_back=_sub_back, const_fast_back=(_rsub_const_back, _sub_const_back),
         torch_name="torch.sub",
         exact=lambda mp, a, b: a - b, exact_grad=lambda mp, a, b, out: (1, -1),
         code={"nn": ("{a} - {b}", ("{g}", "-{g}")), "nc": ("{a} - {c}", ("{g}",)),
               "cn": ("{c} - {a}", ("-{g}",))},
         numpy=("{a} - {b}", ("{g}", "-{g}")))

# -- mul -------------------------------------------------------------------------------------------


def _mul_fwd(a: float, b: float) -> float:
    return a * b


def _mul(F, g, a, b, out):
    return g * b, g * a


def _mul_back(node: Any) -> None:
    a = node._a
    b = node._b
    g = node.grad
    a.grad += g * b.data
    b.grad += g * a.data


def _mul_const_back(node: Any) -> None:  # c * x and x * c
    node._a.grad += node.grad * node._b


MUL = Op("mul", 2, "*", _mul_fwd, _mul, "a * b", dunder="mul",
         fast_back=_mul_back, const_fast_back=(_mul_const_back, _mul_const_back),
         torch_name="torch.mul",
         exact=lambda mp, a, b: a * b, exact_grad=lambda mp, a, b, out: (b, a),
         code={"nn": ("{a} * {b}", ("{g} * {b}", "{g} * {a}")), "nc": ("{a} * {c}", ("{g} * {c}",)),
               "cn": ("{c} * {a}", ("{g} * {c}",))},
         numpy=("{a} * {b}", ("{g} * {b}", "{g} * {a}")))

# -- div: true division; c / x is torch's Tensor.__rtruediv__, reciprocal(x) * c -------------------


def _div(F, g, a, b, out):
    # div_tensor_self_backward / div_tensor_other_backward
    return F.div(g, b), -g * F.div(F.div(a, b), b)


def _div_const_back(node: Any) -> None:  # x / c
    node._a.grad += ieee.div(node.grad, node._b)


def _rdiv_fwd(c: float, x: float) -> float:
    # c / x as torch's Tensor.__rtruediv__ computes it: reciprocal(x) * c
    return ieee.div(1.0, x) * c


def _rdiv(F, g, c, x, out):
    # c / x is Tensor.__rtruediv__: r = reciprocal(x), then r * c. mul's backward gives r the
    # gradient g * c; reciprocal's is -grad * (result * result).
    r = F.div(1.0, x)
    return 0.0, -(g * c) * (r * r)


def _rdiv_const_back(node: Any) -> None:  # c / x
    a = node._a
    r = ieee.div(1.0, a.data)
    a.grad += -(node.grad * node._b) * (r * r)


DIV = Op("div", 2, "/", ieee.div, _div,
         "a / b (true division; x/0 is ±inf or nan); number / Value is torch's reciprocal(b) * a",
         dunder="truediv", const_fast_back=(_rdiv_const_back, _div_const_back),
         reflected_forward=_rdiv_fwd, reflected_vjp=_rdiv,
         torch_name="torch.div",
         torch_reflected=lambda T, c, x: x.reciprocal() * c,
         domain=(ANY, (0.2, 3.0)), special=(0.0, -0.0, 1e-300),
         exact=lambda mp, a, b: a / b if b != 0 else None,
         exact_grad=lambda mp, a, b, out: None if b == 0 else (1 / b, -(a / b) / b),
         code={"nn": ("{a} / {b} if {b} else div({a}, {b})",  # only a zero divisor raises
                      ("div({g}, {b})", "-{g} * div(div({a}, {b}), {b})")),
               "nc": ("{a} / {c}", ("{g} / {c}",)),  # a non-zero constant (code_const_ok)
               "cn": ("(1.0 / {a} if {a} else div(1.0, {a})) * {c}", None)},
         code_const_ok=lambda c: c != 0.0,
         numpy=("div({a}, {b})", ("div({g}, {b})", "-{g} * div(div({a}, {b}), {b})")),
         numpy_reflected=("div(1.0, {b}) * {a}",
                          ("0.0", "-({g} * {a}) * (div(1.0, {b}) * div(1.0, {b}))")))

# -- pow: Value ** Value, number ** Value ----------------------------------------------------------


def _pow(F, g, a, b, out):
    # pow_backward_self: 0 where exponent == 0; pow_backward_exponent: 0 where base == 0 and
    # exponent >= 0.
    av, bv = F.val(a), F.val(b)
    # torch masks the first with where() but multiplies the second by the mask: inf * 0 is nan.
    ga = 0.0 if bv == 0.0 else g * (b * F.pow(a, b - 1.0))
    gb = g * 0.0 if (av == 0.0 and bv >= 0.0) else g * (out * F.log(a))
    return ga, gb


def _real_power(mp: Any, a: Any, e: Any) -> Any:
    return mp.power(a, e) if a > 0 or (a < 0 and e == int(e)) else None


def _exact_base_grad(mp: Any, a: Any, e: Any) -> Any:
    """d(a ** e)/da where it is real (None where a ** e is not)."""
    if a <= 0 and not (a < 0 and e == int(e)) and not (a == 0 and (e == 0 or e >= 1)):
        return None
    return 0 if e == 0 else e * mp.power(a, e - 1)


def _exact_pow_grads(mp: Any, a: Any, e: Any, out: Any) -> tuple[Any, Any] | None:
    da = _exact_base_grad(mp, a, e)
    db = 0 if (a == 0 and e >= 0) else (out * mp.log(a) if a > 0 else None)
    return None if da is None or db is None else (da, db)


POW = Op("pow", 2, "**", ieee.pow, _pow, "a ** b (Value ** Value, number ** Value)", dunder="pow",
         torch_name="torch.pow", scalar_form="pow_scalar",
         domain=(POSITIVE, (-2.5, 2.5)), special=(0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.0),
         exact=_real_power, exact_grad=_exact_pow_grads, masks=(0,), masks_higher=True,
         branch=lambda a, b: (a == 0.0, b == 0.0, b >= 0.0),
         kink=lambda a, b: a == 0.0 or b == 0.0,
         leaks_nan=lambda a, b: a == 0.0 or b == 0.0, ulps=8,
         ordinary=lambda form, a, b: form[1] == "c" or a > 0.0,  # a Value exponent: log(base)
         numpy=(None, "pow_grad({g}, {a}, {b}, {out})"))

# -- pow_scalar: Value ** number (torch's pow(Tensor, Scalar)) -------------------------------------


def _pow_scalar(F, g, a, out, exponent):
    return 0.0 if exponent == 0.0 else g * (exponent * F.pow_scalar(a, exponent - 1.0))


def _exact_pow_scalar_grad(mp: Any, a: Any, out: Any, e: float) -> tuple[Any] | None:
    da = _exact_base_grad(mp, a, mp.mpf(e))
    return None if da is None else (da,)


POW_SCALAR = Op("pow_scalar", 1, "**", ieee.pow_scalar, _pow_scalar,
                "a ** c for a constant number c (torch's pow(Tensor, Scalar))",
                params=(("exponent", 2.0),), torch_name="torch.pow",
                sweep_params=((2.0,), (0.0,), (0.5,), (-0.5,), (-1.0,), (3.0,), (-2.0,), (1.5,), (-1.5,)),
                exact=lambda mp, a, e: _real_power(mp, a, e), exact_grad=_exact_pow_scalar_grad, ulps=8,
                numpy=("pow_scalar({a}, {p0})", ("pow_scalar_grad({g}, {a}, {p0})",)))

# -- floordiv and mod: the quotient's pieces -------------------------------------------------------


def _quotient_branch(a: float, b: float) -> tuple[Any, ...]:
    return (math.floor(a / b) if b != 0.0 and math.isfinite(a / b) else None,)


def _huge_quotient(a: float, b: float) -> bool:
    # d(a % b)/db is -floor(a / b): the k-th derivative sums terms of size quotient ** k that cancel
    return b != 0.0 and math.isfinite(a) and abs(a / b) > 1e6


FLOORDIV = Op("floordiv", 2, "//", ieee.floor_divide, None,
              "floor(a / b) as torch.floor_divide; not differentiable (backward raises, as in torch)",
              dunder="floordiv", torch_name="torch.floor_divide", domain=(ANY, (0.3, 3.0)),
              special=(0.0, -0.0),
              exact=lambda mp, a, b: mp.floor(a / b) if b != 0 else None,
              branch=_quotient_branch, ill_conditioned=_huge_quotient,
              numpy=("floor_divide({a}, {b})", None))


def _remainder(F, g, a, b, out):
    # remainder: other gets -grad * self.div(other, rounding_mode="floor") (derivative 0).
    return g, -g * F.call(DIV_FLOOR, a, b)


MOD = Op("mod", 2, "%", ieee.remainder, _remainder,
         "torch.remainder: result has the sign of b; d/db = -floor(a / b)", dunder="mod",
         torch_name="torch.remainder",
         domain=(ANY, (0.3, 3.0)), special=(0.0, -0.0),
         exact=lambda mp, a, b: a - b * mp.floor(a / b) if b != 0 else None,
         exact_grad=lambda mp, a, b, out: None if b == 0 else (1, -mp.floor(a / b)),
         branch=_quotient_branch, ill_conditioned=_huge_quotient,
         numpy=("remainder({a}, {b})", ("{g}", "-{g} * floor_divide({a}, {b})")))

# -- neg -------------------------------------------------------------------------------------------


def _neg_fwd(a: float) -> float:
    return -a


def _neg(F, g, a, out):
    return -g


def _neg_back(node: Any) -> None:
    node._a.grad += -node.grad


NEG = Op("neg", 1, "neg", _neg_fwd, _neg, "-a", dunder="neg", fast_back=_neg_back,
         torch_name="torch.neg", domain=(ANY,),
         exact=lambda mp, a: -a, exact_grad=lambda mp, a, out: (-1,),
         code={"n": ("-{a}", ("-{g}",))}, numpy=("-{a}", ("-{g}",)))
