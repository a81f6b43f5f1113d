"""The op table: every primitive op of vetgrad, declared once.

Each :class:`Op` holds the IEEE-safe float forward, the vector-Jacobian product (VJP) rule, how a
user spells the op on a micrograd-style ``Value``, how PyTorch spells it, and sampling hints for the
conformance generator. ``Value``'s operators and methods, the docs (``python -m engine.ops``) and
the conformance harness all read this table.

A VJP rule is written once for two number systems: ``F`` is either :data:`FLOAT` (plain floats,
IEEE-safe functions) or :data:`VALUE` (``Value`` arithmetic, so that gradients can themselves be
differentiated). Arguments: ``F, g, *inputs, out, *params``; a unary rule returns the gradient of its
input, a binary rule a pair. Rules follow ``tools/autograd/derivatives.yaml`` of PyTorch, including
the order of floating-point operations, so results agree to the last bit where possible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from engine import ieee


class FloatMath:
    """The ``F`` of VJP rules on plain floats."""

    div = staticmethod(ieee.div)
    pow = staticmethod(ieee.pow)
    pow_scalar = staticmethod(ieee.pow_scalar)
    exp = staticmethod(ieee.exp)
    sigmoid = staticmethod(ieee.sigmoid)

    @staticmethod
    def call(op: Op, *args: Any) -> float:
        """A backward op (see "backward ops" below) on floats: its forward."""
        return op.forward(*args)  # type: ignore[misc]
    log = staticmethod(ieee.log)
    sin = staticmethod(ieee.sin)
    cos = staticmethod(ieee.cos)

    @staticmethod
    def val(x: float) -> float:
        return x


class ValueMath:
    """The ``F`` of VJP rules on ``Value`` objects (``create_graph=True``)."""

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        # torch's formulas divide tensors: a float numerator is a leaf, not ``c / x`` (which is
        # torch's reciprocal(x) * c and would turn 0 / 1e-300 into 0 * inf = nan)
        return (ValueMath.leaf(a) if isinstance(a, (int, float)) else a) / b

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return a**b

    pow_scalar = pow

    @staticmethod
    def exp(a: Any) -> Any:
        return a.exp()

    @staticmethod
    def sigmoid(a: Any) -> Any:
        return a.sigmoid()

    # call(op, *inputs, *params): a node of backward op ``op``; leaf(x): a leaf Value. Both are
    # installed by engine.value.
    call: Callable[..., Any]
    leaf: Callable[[float], Any]

    @staticmethod
    def log(a: Any) -> Any:
        return a.log()

    @staticmethod
    def sin(a: Any) -> Any:
        return a.sin()

    @staticmethod
    def cos(a: Any) -> Any:
        return a.cos()

    @staticmethod
    def val(x: Any) -> float:
        return x.data if hasattr(x, "data") else x


FLOAT = FloatMath
VALUE = ValueMath

# Sampling hints: a well-conditioned domain for ordinary inputs, and the special points (kinks,
# ties, domain edges) where PyTorch's conventions decide the result.
ANY = (-3.0, 3.0)
POSITIVE = (0.05, 5.0)


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive op. ``params`` are constant (non-differentiable) arguments with defaults.

    The hottest ops also name their backward step written out by hand for floats (``fast_back``,
    and ``const_fast_back`` for a constant operand on the left or right); ``backward()`` repeats
    the common ones inline, as ``Value``'s hot operators do their forward (a call costs about a
    third of a node). Tests hold every hand-written step and forward bit-identical to ``forward``
    and ``vjp``.
    """

    name: str
    arity: int
    symbol: str
    forward: Callable[..., float]
    vjp: Callable[..., Any] | None
    doc: str
    call: Callable[..., Any] | None = None
    torch: Callable[..., Any] | None = None
    params: tuple[tuple[str, Any], ...] = ()
    domain: tuple[tuple[float, float], ...] = (ANY, ANY)
    special: tuple[float, ...] = ()
    dunder: str | None = None
    method: str | None = None
    torch_name: str = ""
    # One step of backward() on floats, written out by hand (the VJP rule, bit for bit).
    fast_back: Callable[[Any], None] | None = field(default=None, repr=False)
    const_fast_back: tuple[Callable[[Any], None] | None, Callable[[Any], None] | None] = field(
        default=(None, None), repr=False)  # the same with a constant operand: c op x, x op c
    # ``number op Value`` where torch's reflected operator is not the op itself: ``c / x`` is
    # ``Tensor.__rtruediv__``, reciprocal(x) * c. Its forward (of ``a`` = c, ``b`` = x) and VJP.
    reflected_forward: Callable[[float, float], float] | None = field(default=None, repr=False)
    reflected_vjp: Callable[..., Any] | None = field(default=None, repr=False)
    back: Callable[[Any], None] = field(init=False, repr=False)
    const_left: ConstOp | None = field(init=False, repr=False)  # c op x (binary ops only)
    const_right: ConstOp | None = field(init=False, repr=False)  # x op c

    def __post_init__(self) -> None:
        if not callable(self.forward):
            raise TypeError(f"op {self.name!r} needs a forward function, got {self.forward!r}")
        object.__setattr__(self, "back", self.fast_back or _float_back(self, ()))
        binary = self.arity == 2
        object.__setattr__(self, "const_left", ConstOp(self, right=False) if binary else None)
        object.__setattr__(self, "const_right", ConstOp(self, right=True) if binary else None)

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its name: an unpickled graph shares the table's op objects (backward
        # dispatches on identity), and no function of the row has to be pickled.
        if OPS.get(self.name) is not self:
            raise TypeError(f"op {self.name!r} is not in vetgrad's op table, so it cannot be pickled")
        return (_table_op, (self.name,))

    def bind(self, *params: Any) -> BoundOp:
        """This op with its constant parameters fixed. Bound ops are shared by nodes through a
        bounded cache (an exponent may change every step)."""
        key = (self.name, params)
        bound = _BOUND.get(key)  # never holds a ±0.0 or a nan, which == cannot tell apart
        if bound is None:
            if not all(p is None or (p == p and p != 0.0) for p in params):
                key = (self.name, tuple(map(repr, params)))  # '-0.0', 'nan': exact and stable
                bound = _BOUND.get(key)
            if bound is None:
                if len(_BOUND) >= _BOUND_LIMIT:
                    _BOUND.clear()
                bound = _BOUND[key] = BoundOp(self, params)
        return bound


class ConstOp:
    """A binary op with a plain number on one side (``x * 2.0``, ``1.0 - x``). Its node keeps the
    Value operand in ``_a`` and the number, a float, in ``_b``: no leaf node is made for a constant
    (a third of the cost of ``x * 2.0``). ``Value._prev`` shows the constant as a fresh leaf."""

    __slots__ = ("arity", "back", "fast_back", "name", "op", "right", "symbol", "vjp")
    params: tuple[Any, ...] = ()

    def __init__(self, op: Op, right: bool) -> None:
        self.op = op
        self.right = right  # the constant is the right operand
        self.name = op.name
        self.arity = op.arity
        self.symbol = op.symbol
        self.vjp = op.vjp if right or op.reflected_vjp is None else op.reflected_vjp
        self.fast_back = op.const_fast_back[right]  # hand-written, or None
        self.back = self.fast_back or _const_back(self.vjp, op, right)

    def operands(self, value: Any, const: float) -> tuple[Any, Any]:
        """The op's two inputs in order, given the Value side and the constant."""
        return (value, const) if self.right else (const, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_table_const_op, (self.name, self.right))

    def __repr__(self) -> str:
        return f"ConstOp({self.name}, constant on the {'right' if self.right else 'left'})"


class BoundOp:
    """An op whose constant parameters are fixed (``leaky_relu(0.2)``, ``clamp(0, 1)``, ``x**2``)."""

    __slots__ = ("arity", "back", "name", "op", "params", "symbol", "vjp")

    def __init__(self, op: Op, params: tuple[Any, ...]) -> None:
        self.op = op
        self.params = params
        self.name = op.name
        self.arity = op.arity
        self.vjp = op.vjp
        self.back = _float_back(op, params)
        self.symbol = _bound_symbol(op, params)

    def forward(self, *inputs: float) -> float:
        return self.op.forward(*inputs, *self.params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_table_bound_op, (self.name, self.params))

    def __repr__(self) -> str:
        return f"BoundOp({self.symbol})"


_BOUND: dict[tuple[str, tuple[Any, ...]], BoundOp] = {}
_BOUND_LIMIT = 1024


def _table_op(name: str) -> Op:
    """The op-table entry ``name`` (how pickle restores an op)."""
    op = OPS.get(name)
    if op is None:
        raise ValueError(f"no op named {name!r} in this vetgrad's op table (pickled by another version?)")
    return op


def _table_const_op(name: str, right: bool) -> ConstOp:
    op = _table_op(name)
    return op.const_right if right else op.const_left  # type: ignore[return-value]


def _table_bound_op(name: str, params: tuple[Any, ...]) -> BoundOp:
    return _table_op(name).bind(*params)


class HandBuiltOp:
    """The op of a node built by hand (``Value(x, (a,), 'mystery')``) that has no rule here."""

    __slots__ = ("symbol",)
    name = "hand-built"
    vjp = None
    params: tuple[Any, ...] = ()

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def back(self, node: Any) -> None:
        raise RuntimeError(
            f"node with op {self.symbol!r} was built by hand and vetgrad has no derivative rule for "
            f"it; build it with vetgrad's operators instead")


def _number_text(x: float) -> str:
    return str(int(x)) if x == x and abs(x) != ieee.INF and x.is_integer() else repr(x)


def _bound_symbol(op: Op, params: tuple[Any, ...]) -> str:
    if op.name == "pow_scalar":  # micrograd labels x**2 as '**2'
        return "**" + _number_text(params[0])
    shown = ", ".join("None" if p is None else _number_text(p) for p in params)
    return f"{op.symbol}({shown})"


def _not_differentiable(op: Op) -> Callable[[Any], None]:
    def back(node: Any) -> None:
        raise RuntimeError(
            f"derivative for {op.name} ({op.symbol!r}) is not implemented: PyTorch raises here too "
            "(floor division is piecewise constant). Detach its inputs or use '/' instead."
        )

    return back


def _const_back(vjp: Callable[..., Any] | None, op: Op, right: bool) -> Callable[[Any], None]:
    """One step of ``backward()`` for a node with a constant operand: the VJP rule, kept for the
    Value side only (so it is the two-Value rule bit for bit)."""
    if vjp is None:
        return _not_differentiable(op)
    F = FLOAT
    if right:

        def back(node: Any) -> None:
            a = node._a
            a.grad += vjp(F, node.grad, a.data, node._b, node.data)[0]

    else:

        def back(node: Any) -> None:
            a = node._a
            a.grad += vjp(F, node.grad, node._b, a.data, node.data)[1]

    return back


def _float_back(op: Op, params: tuple[Any, ...]) -> Callable[[Any], None]:
    """One step of ``backward()``: apply the VJP rule to floats and accumulate into the parents.
    (The hottest ops also write it out by hand, ``fast_back``; a test holds the two bit-identical.)"""
    vjp = op.vjp
    if vjp is None:
        return _not_differentiable(op)
    F = FLOAT
    if op.arity == 1:
        if params:

            def back(node: Any) -> None:
                a = node._a
                a.grad += vjp(F, node.grad, a.data, node.data, *params)

        else:

            def back(node: Any) -> None:
                a = node._a
                a.grad += vjp(F, node.grad, a.data, node.data)

        return back

    def back2(node: Any) -> None:
        a = node._a
        b = node._b
        ga, gb = vjp(F, node.grad, a.data, b.data, node.data, *params)
        a.grad += ga
        b.grad += gb

    return back2


# ---------------------------------------------------------------------------------------------
# VJP rules (derivatives.yaml in PyTorch names the formula each one follows)


# The hottest ops: forward, VJP rule, and the rule's backward step written out for floats (one
# call less per node; Value's operators and backward() repeat these bodies inline). A node with a
# constant operand (ConstOp) keeps the Value in node._a and the number in node._b.


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


def _pow(F, g, a, b, out):
    # pow_backward_self: 0 where exponent == 0; pow_backward_exponent: 0 where base == 0 and
    # exponent >= 0.
    av, bv = F.val(a), F.val(b)
    # torch masks the first with where() but multiplies the second by the mask: inf * 0 is nan.
    ga = 0.0 if bv == 0.0 else g * (b * F.pow(a, b - 1.0))
    gb = g * 0.0 if (av == 0.0 and bv >= 0.0) else g * (out * F.log(a))
    return ga, gb


def _pow_scalar(F, g, a, out, exponent):
    return 0.0 if exponent == 0.0 else g * (exponent * F.pow_scalar(a, exponent - 1.0))


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


def _remainder(F, g, a, b, out):
    # remainder: other gets -grad * self.div(other, rounding_mode="floor") (derivative 0).
    return g, -g * F.call(DIV_FLOOR, a, b)


def _neg_fwd(a: float) -> float:
    return -a


def _neg(F, g, a, out):
    return -g


def _neg_back(node: Any) -> None:
    node._a.grad += -node.grad


def _abs_fwd(a: float) -> float:
    return abs(a)


def _abs(F, g, a, out):
    return g * F.call(SGN, a)


def _exp(F, g, a, out):
    return g * out


def _exp_back(node: Any) -> None:
    node._a.grad += node.grad * node.data


def _log(F, g, a, out):
    return F.div(g, a)


def _sqrt(F, g, a, out):
    return F.div(g, 2.0 * out)


def _sin(F, g, a, out):
    return g * F.cos(a)


def _cos(F, g, a, out):
    return g * -F.sin(a)


def _tanh(F, g, a, out):
    return F.call(TANH_BACKWARD, g, out)


def _tanh_back(node: Any) -> None:  # _tanh_backward_fwd(g, out), inline
    out = node.data
    node._a.grad += node.grad * ((1.0 - out) * (1.0 + out))


def _sigmoid(F, g, a, out):
    return F.call(SIGMOID_BACKWARD, g, out)


def _relu_fwd(a: float) -> float:
    return 0.0 if a < 0.0 else a  # keeps -0.0 and nan, as torch.relu does


def _relu(F, g, a, out):
    return F.call(RELU_BACKWARD, g, out)


def _relu_back(node: Any) -> None:  # _relu_backward_fwd(g, out), inline
    node._a.grad += 0.0 if node.data <= 0.0 else node.grad


def _leaky_relu(F, g, a, out, slope):
    return F.call(LEAKY_RELU_BACKWARD, g, a, slope)


def _softplus(F, g, a, out):
    return F.call(SOFTPLUS_BACKWARD, g, a)


def _clamp(F, g, a, out, lo, hi):
    # clamp_backward: where(lo <= a <= hi, grad, 0), a mask of a (so no path back to a); the
    # bounds are inclusive (subgradient 1 at lo and hi); nan gets 0.
    av = F.val(a)
    inside = av == av and (lo is None or av >= lo) and (hi is None or av <= hi)
    return g if inside else 0.0


def _softplus_fwd(x: float) -> float:
    return ieee.softplus(x)


def _leaky_relu_fwd(x: float, slope: float) -> float:
    return x if x > 0.0 else x * slope


# -- backward ops ---------------------------------------------------------------------------------
# torch's derivative formulas are ops with derivatives of their own (derivatives.yaml:
# threshold_backward, tanh_backward, ...). A rule calls one through F.call: on floats that is its
# forward; with create_graph it is a node, so a gradient keeps torch's graph. relu's second
# derivative is then 0 (x stays in the graph with a zero derivative) rather than "x unused", and
# tanh's is -2 * y * g * gg as torch's, not the derivative of (1 - y)(1 + y), which cancels near
# 0. Their inputs: the incoming gradient, then what the formula saved (input or result).

def _relu_backward_fwd(g: float, out: float) -> float:
    # threshold_backward(grad, result, 0): zero where the result is <= 0 (so nan passes grad).
    return 0.0 if out <= 0.0 else g


def _relu_backward(F, gg, g, out, res):
    return F.call(RELU_BACKWARD, gg, out), 0.0


def _leaky_relu_backward_fwd(g: float, a: float, slope: float) -> float:
    return g if a > 0.0 else g * slope


def _leaky_relu_backward(F, gg, g, a, res, slope):
    return F.call(LEAKY_RELU_BACKWARD, gg, a, slope), 0.0


def _tanh_backward_fwd(g: float, out: float) -> float:
    # torch evaluates 1 - y*y with a fused multiply-add (exact product); (1 - y)(1 + y) matches it
    # where 1 - y*y would cancel catastrophically near saturation.
    return g * ((1.0 - out) * (1.0 + out))


def _tanh_backward(F, gg, g, out, res):
    return F.call(TANH_BACKWARD, gg, out), gg * (-2.0 * out * g)


def _sigmoid_backward_fwd(g: float, out: float) -> float:
    return g * (1.0 - out) * out


def _sigmoid_backward(F, gg, g, out, res):
    return F.call(SIGMOID_BACKWARD, gg, out), gg * g * (-2.0 * out + 1.0)


def _softplus_backward_fwd(g: float, a: float) -> float:
    if a > ieee.SOFTPLUS_THRESHOLD:
        return g
    z = ieee.exp(a)
    return g * z / (z + 1.0)


def _softplus_backward(F, gg, g, a, res):
    # softplus_double_backward(grad * grad_output, self): its mask is x < threshold, where the
    # forward's is x > threshold, so at x = 20 exactly the second derivative is 0 in torch.
    below = F.val(a) < ieee.SOFTPLUS_THRESHOLD
    return (F.call(SOFTPLUS_BACKWARD, gg, a),
            F.call(SIGMOID_BACKWARD, gg * g, F.sigmoid(a)) * (1.0 if below else 0.0))


def _zero_derivative(F, g, a, out):
    return 0.0


def _zero_derivatives(F, g, a, b, out):
    return 0.0, 0.0  # torch: zeros, even for a nan or inf gradient


RELU_BACKWARD = Op("relu_backward", 2, "relu_backward", _relu_backward_fwd, _relu_backward,
                   "torch's threshold_backward(grad, result, 0)")
LEAKY_RELU_BACKWARD = Op("leaky_relu_backward", 2, "leaky_relu_backward", _leaky_relu_backward_fwd,
                         _leaky_relu_backward, "torch's leaky_relu_backward(grad, self, slope)",
                         params=(("slope", 0.01),))
TANH_BACKWARD = Op("tanh_backward", 2, "tanh_backward", _tanh_backward_fwd, _tanh_backward,
                   "torch's tanh_backward(grad, result)")
SIGMOID_BACKWARD = Op("sigmoid_backward", 2, "sigmoid_backward", _sigmoid_backward_fwd,
                      _sigmoid_backward, "torch's sigmoid_backward(grad, result)")
SOFTPLUS_BACKWARD = Op("softplus_backward", 2, "softplus_backward", _softplus_backward_fwd,
                       _softplus_backward, "torch's softplus_backward(grad, self, 1, 20)")
SGN = Op("sgn", 1, "sgn", ieee.sign, _zero_derivative, "torch.sgn: -1, 0 or 1 (derivative 0)")
DIV_FLOOR = Op("div_floor", 2, "div_floor", ieee.floor_divide, _zero_derivatives,
               "torch.div(a, b, rounding_mode='floor') (derivative 0)")
BACKWARD_OPS = (RELU_BACKWARD, LEAKY_RELU_BACKWARD, TANH_BACKWARD, SIGMOID_BACKWARD, SOFTPLUS_BACKWARD,
                SGN, DIV_FLOOR)

_KINK0 = (0.0, -0.0)
_OPS: tuple[Op, ...] = (
    Op("add", 2, "+", _add_fwd, _add, "a + b", dunder="add",
       fast_back=_add_back, const_fast_back=(_add_const_back, _add_const_back),
       call=lambda a, b: a + b, torch=lambda T, a, b: T.add(a, b), torch_name="torch.add"),
    Op("sub", 2, "-", _sub_fwd, _sub, "a - b", dunder="sub",
       fast_back=_sub_back, const_fast_back=(_rsub_const_back, _sub_const_back),
       call=lambda a, b: a - b, torch=lambda T, a, b: T.sub(a, b), torch_name="torch.sub"),
    Op("mul", 2, "*", _mul_fwd, _mul, "a * b", dunder="mul",
       fast_back=_mul_back, const_fast_back=(_mul_const_back, _mul_const_back),
       call=lambda a, b: a * b, torch=lambda T, a, b: T.mul(a, b), torch_name="torch.mul"),
    Op("div", 2, "/", ieee.div, _div,
       "a / b (true division; x/0 is ±inf or nan); number / Value is torch's reciprocal(b) * a",
       dunder="truediv", const_fast_back=(_rdiv_const_back, _div_const_back),
       reflected_forward=_rdiv_fwd, reflected_vjp=_rdiv,
       call=lambda a, b: a / b, torch=lambda T, a, b: T.div(a, b), torch_name="torch.div",
       domain=(ANY, (0.2, 3.0)), special=(0.0, -0.0, 1e-300)),
    Op("pow", 2, "**", ieee.pow, _pow, "a ** b (Value ** Value, number ** Value)", dunder="pow",
       call=lambda a, b: a**b, torch=lambda T, a, b: T.pow(a, b), torch_name="torch.pow",
       domain=(POSITIVE, (-2.5, 2.5)), special=(0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.0)),
    Op("pow_scalar", 1, "**", ieee.pow_scalar, _pow_scalar,
       "a ** c for a constant number c (torch's pow(Tensor, Scalar))",
       params=(("exponent", 2.0),), torch=lambda T, a, e: T.pow(a, e), torch_name="torch.pow"),
    Op("maximum", 2, "maximum", ieee.maximum, _maximum,
       "larger of a and b; a tie splits the gradient in halves; nan propagates", method="maximum",
       call=lambda a, b: a.maximum(b), torch=lambda T, a, b: T.maximum(a, b),
       torch_name="torch.maximum", special=(0.0, 1.0)),
    Op("minimum", 2, "minimum", ieee.minimum, _minimum,
       "smaller of a and b; a tie splits the gradient in halves; nan propagates", method="minimum",
       call=lambda a, b: a.minimum(b), torch=lambda T, a, b: T.minimum(a, b),
       torch_name="torch.minimum", special=(0.0, 1.0)),
    Op("floordiv", 2, "//", ieee.floor_divide, None,
       "floor(a / b) as torch.floor_divide; not differentiable (backward raises, as in torch)",
       dunder="floordiv", call=lambda a, b: a // b,
       torch=lambda T, a, b: T.floor_divide(a, b), torch_name="torch.floor_divide",
       domain=(ANY, (0.3, 3.0)), special=(0.0, -0.0)),
    Op("mod", 2, "%", ieee.remainder, _remainder,
       "torch.remainder: result has the sign of b; d/db = -floor(a / b)", dunder="mod",
       call=lambda a, b: a % b, torch=lambda T, a, b: T.remainder(a, b),
       torch_name="torch.remainder", domain=(ANY, (0.3, 3.0)), special=(0.0, -0.0)),
    Op("neg", 1, "neg", _neg_fwd, _neg, "-a", dunder="neg", fast_back=_neg_back,
       call=lambda a: -a, torch=lambda T, a: T.neg(a), torch_name="torch.neg", domain=(ANY,)),
    Op("abs", 1, "abs", _abs_fwd, _abs, "|a|; gradient 0 at 0 (torch.sgn)",
       dunder="abs", method="abs", call=lambda a: abs(a), torch=lambda T, a: T.abs(a), torch_name="torch.abs",
       domain=(ANY,), special=_KINK0),
    Op("exp", 1, "exp", ieee.exp, _exp, "e ** a; exp(1000) = inf", method="exp", fast_back=_exp_back,
       call=lambda a: a.exp(), torch=lambda T, a: T.exp(a), torch_name="torch.exp",
       domain=((-5.0, 5.0),), special=(709.0, 710.0, -745.0)),
    Op("log", 1, "log", ieee.log, _log, "natural log; log(0) = -inf, log(-1) = nan", method="log",
       call=lambda a: a.log(), torch=lambda T, a: T.log(a), torch_name="torch.log",
       domain=(POSITIVE,), special=(0.0, -0.0, -1.0)),
    Op("sqrt", 1, "sqrt", ieee.sqrt, _sqrt, "square root; sqrt'(0) = inf, sqrt(-1) = nan",
       method="sqrt", call=lambda a: a.sqrt(), torch=lambda T, a: T.sqrt(a),
       torch_name="torch.sqrt", domain=(POSITIVE,), special=(0.0, -0.0, -1.0)),
    Op("sin", 1, "sin", ieee.sin, _sin, "sine; sin(inf) = nan", method="sin",
       call=lambda a: a.sin(), torch=lambda T, a: T.sin(a), torch_name="torch.sin",
       domain=(ANY,)),
    Op("cos", 1, "cos", ieee.cos, _cos, "cosine; cos(inf) = nan", method="cos",
       call=lambda a: a.cos(), torch=lambda T, a: T.cos(a), torch_name="torch.cos",
       domain=(ANY,)),
    Op("tanh", 1, "tanh", math.tanh, _tanh, "hyperbolic tangent; grad 1 - tanh**2", method="tanh",
       fast_back=_tanh_back,
       call=lambda a: a.tanh(), torch=lambda T, a: T.tanh(a), torch_name="torch.tanh",
       domain=(ANY,), special=(20.0, -20.0)),
    Op("sigmoid", 1, "sigmoid", ieee.sigmoid, _sigmoid, "1 / (1 + exp(-a)); grad s * (1 - s)",
       method="sigmoid", call=lambda a: a.sigmoid(), torch=lambda T, a: T.sigmoid(a),
       torch_name="torch.sigmoid", domain=(ANY,), special=(40.0, -40.0, 1000.0, -1000.0)),
    Op("relu", 1, "ReLU", _relu_fwd, _relu, "max(a, 0); relu'(0) = 0", method="relu",
       fast_back=_relu_back,
       call=lambda a: a.relu(), torch=lambda T, a: T.relu(a), torch_name="torch.relu",
       domain=(ANY,), special=_KINK0),
    Op("leaky_relu", 1, "leaky_relu", _leaky_relu_fwd, _leaky_relu,
       "a if a > 0 else slope * a; gradient slope at 0", method="leaky_relu",
       params=(("slope", 0.01),), call=lambda a, slope: a.leaky_relu(slope),
       torch=lambda T, a, slope: T.nn.functional.leaky_relu(a, slope),
       torch_name="torch.nn.functional.leaky_relu", domain=(ANY,), special=_KINK0),
    Op("softplus", 1, "softplus", _softplus_fwd, _softplus,
       "log(1 + exp(a)), linear above a = 20 (torch's beta=1, threshold=20)", method="softplus",
       call=lambda a: a.softplus(), torch=lambda T, a: T.nn.functional.softplus(a),
       torch_name="torch.nn.functional.softplus", domain=(ANY,),
       special=(20.0, 20.000001, 19.999999, 15.0, 11.0, -800.0)),
    Op("clamp", 1, "clamp", ieee.clamp, _clamp,
       "min(max(a, lo), hi); either bound may be None; the bounds are inclusive (gradient 1)",
       method="clamp", params=(("lo", None), ("hi", None)),
       call=lambda a, lo, hi: a.clamp(lo, hi), torch=lambda T, a, lo, hi: T.clamp(a, lo, hi),
       torch_name="torch.clamp", domain=(ANY,)),
)

OPS: dict[str, Op] = {op.name: op for op in (*_OPS, *BACKWARD_OPS)}
"""Every primitive op by name."""

BY_SYMBOL: dict[str, Op] = {op.symbol: op for op in _OPS if op.name != "pow_scalar"}
"""Ops by their ``_op`` label, for nodes a user builds by hand (``Value(x, (a, b), '+')``)."""


def public_ops() -> list[Op]:
    """The ops a user calls directly (what the conformance harness tests)."""
    return [op for op in _OPS if op.call is not None]


def markdown_table() -> str:
    """The op table as Markdown, for the docs."""
    rows = ["| op | arity | how to call | torch | differentiable | notes |", "|---|---|---|---|---|---|"]
    spell = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "pow": "a ** b",
             "floordiv": "a // b", "mod": "a % b", "neg": "-a", "abs": "abs(a)"}
    for op in public_ops():
        params = ", ".join(f"{n}={d}" for n, d in op.params)
        how = spell.get(op.name) or (f"a.{op.method}({'b' if op.arity == 2 else params})")
        rows.append(f"| `{op.name}` | {op.arity} | `{how}` | `{op.torch_name}` | "
                    f"{'yes' if op.differentiable else 'no (raises)'} | {op.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
