"""The op table: every primitive op of vetgrad, declared once.

Each :class:`Op` holds the IEEE-safe float forward, the vector-Jacobian product (VJP) rule, how a
user spells the op on a micrograd-style ``Value``, how PyTorch spells it, and sampling hints for the
conformance generator. ``Value``'s operators and methods, the docs (``python -m vetgrad.engine.ops``) and
the conformance harness all read this table.

A VJP rule is written once for two number systems: ``F`` is either :data:`FLOAT` (plain floats,
IEEE-safe functions) or :data:`VALUE` (``Value`` arithmetic, so that gradients can themselves be
differentiated). Arguments: ``F, g, *inputs, out, *params``; a unary rule returns the gradient of its
input, a binary rule a pair. Rules follow ``tools/autograd/derivatives.yaml`` of PyTorch, including
the order of floating-point operations, so results agree to the last bit where possible.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from vetgrad.engine import ieee


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
    """One primitive op: its row is the whole spec (as OpInfo and derivatives.yaml are for torch).

    Every consumer reads the row: ``Value``'s operators and methods, ``backward()``, the docs
    table, the conformance generator, torch reference, exact oracle, probe, reproducer printer and
    edge sweep, and the tests. Functions of inputs take them in the op's order, then ``params``
    (as ``forward`` does); a VJP rule takes ``F, g, *inputs, out, *params``; an exact rule takes
    ``mp`` (the mpmath module, so that this package needs no mpmath) first.

    The hottest ops also name their backward step written out by hand for floats (``fast_back``,
    and ``const_fast_back`` for a constant operand on the left or right); ``backward()`` repeats
    the common ones inline, as ``Value``'s hot operators do their forward (a call costs about a
    third of a node). Tests hold every hand-written step and forward bit-identical to ``forward``
    and ``vjp``.
    """

    name: str
    arity: int
    symbol: str  # micrograd's ``_op`` label of a node
    forward: Callable[..., float]  # IEEE-safe float function
    vjp: Callable[..., Any] | None  # None: not differentiable (backward raises, as in torch)
    doc: str
    # -- how a user spells it (``call`` is derived from these) --
    dunder: str | None = None  # Python operator: "add" is ``a + b`` (and ``2 + a``)
    method: str | None = None  # ``a.method(...)``; a binary method takes a constant on the right only
    # -- PyTorch --
    torch_name: str = ""  # the function torch computes it with, applied to (*tensors, *params)
    # ``number op Value`` where torch's reflected operator is another formula than the op's
    # function (``c / x`` is ``Tensor.__rtruediv__``: reciprocal(x) * c); both are sound, so the
    # harness accepts an engine that follows either. (torch, c, x) -> tensor.
    torch_reflected: Callable[..., Any] | None = None
    # ``Value op number`` is another op in torch (``x ** 2.0`` is pow(Tensor, Scalar)): its name.
    scalar_form: str | None = None
    # -- constant parameters --
    params: tuple[tuple[str, Any], ...] = ()  # (name, default)
    sample_params: Callable[[Any], tuple[Any, ...]] | None = None  # from a conformance Source
    # the edge sweep's parameters; the first are the probe's (default: the defaults)
    sweep_params: tuple[tuple[Any, ...], ...] | None = None
    # -- sampling --
    domain: tuple[tuple[float, float], ...] = (ANY, ANY)  # well-conditioned inputs, per position
    special: tuple[float, ...] = ()  # kinks, ties, domain edges: edge values of this op
    # -- the exact (mpmath) reference: None where the result is not a finite real --
    exact: Callable[..., Any] | None = None  # (mp, *inputs, *params)
    # (mp, *inputs, out, *params) -> one derivative per input, each a number or (number, scale of
    # its terms) where the formula cancels (tanh' = 1 - out**2); ``out`` is the engine's own value
    exact_grad: Callable[..., Any] | None = None
    # -- torch's conventions where the function is not smooth (docs/ladder.md) --
    masks: tuple[int, ...] = ()  # inputs whose zero derivative is torch's where(): nan doesn't pass
    masks_higher: bool = False  # torch's backward is a where(): higher derivatives may leak nan
    branch: Callable[..., tuple[Any, ...]] | None = None  # which piece the inputs select
    kink: Callable[..., bool] | None = None  # inputs exactly on a mask point or tie
    leaks_nan: Callable[..., bool] | None = None  # torch's higher derivatives leak nan from a mask
    ill_conditioned: Callable[..., bool] | None = None  # higher derivatives cancel past float64
    # -- the ``math`` level's ordinary region (docs: the ladder's specification) --
    # (form, *inputs, *params) -> whether every textbook formula of the op in Python floats (tanh
    # as (e**2x - 1)/(e**2x + 1) with 1 - t**2, sigmoid as 1/(1 + e**-x) with s*(1 - s),
    # log(1 + e**x), x ** y) is finite and accurate to 1e-8 here; ``form`` as conformance's
    # ("n", "nn", "nc", "cn"). None: wherever inputs, value and derivatives are of moderate size.
    ordinary: Callable[..., bool] | None = None
    ulps: int = 0  # how far from torch the engine may round (0: bit for bit; C libm ops differ)
    # -- engine internals --
    # One step of backward() on floats, written out by hand (the VJP rule, bit for bit).
    fast_back: Callable[[Any], None] | None = field(default=None, repr=False)
    const_fast_back: tuple[Callable[[Any], None] | None, Callable[[Any], None] | None] = field(
        default=(None, None), repr=False)  # the same with a constant operand: c op x, x op c
    # ``number op Value`` where torch's reflected operator is not the op itself: ``c / x`` is
    # ``Tensor.__rtruediv__``, reciprocal(x) * c. Its forward (of ``a`` = c, ``b`` = x) and VJP.
    reflected_forward: Callable[[float, float], float] | None = field(default=None, repr=False)
    reflected_vjp: Callable[..., Any] | None = field(default=None, repr=False)
    call: Callable[..., Any] | None = field(init=False, repr=False)  # the op as a user writes it
    torch: Callable[..., Any] | None = field(init=False, repr=False)  # (torch, *tensors, *params)
    back: Callable[[Any], None] = field(init=False, repr=False)
    const_left: ConstOp | None = field(init=False, repr=False)  # c op x (binary ops only)
    const_right: ConstOp | None = field(init=False, repr=False)  # x op c

    def __post_init__(self) -> None:
        if not callable(self.forward):
            raise TypeError(f"op {self.name!r} needs a forward function, got {self.forward!r}")
        object.__setattr__(self, "call", _user_call(self))
        object.__setattr__(self, "torch", _torch_call(self.torch_name) if self.torch_name else None)
        if self.sweep_params is None:
            object.__setattr__(self, "sweep_params", (tuple(d for _, d in self.params),))
        object.__setattr__(self, "back", self.fast_back or _float_back(self, ()))
        binary = self.arity == 2
        object.__setattr__(self, "const_left", ConstOp(self, right=False) if binary else None)
        object.__setattr__(self, "const_right", ConstOp(self, right=True) if binary else None)
        missing = self.missing_facts()
        if missing:
            raise TypeError(f"op {self.name!r}: its row lacks {', '.join(missing)} (see Op)")

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    @property
    def public(self) -> bool:
        """Whether a user calls it directly (an operator or a method of ``Value``)."""
        return self.dunder is not None or self.method is not None

    def spell(self, args: Sequence[str], params: Sequence[str] = ()) -> str:
        """Python source of this op as a user writes it, on operands and parameters given as
        source text: ``a + b``, ``-a``, ``abs(a)``, ``a.clamp(-1.0, 1.0)``."""
        if self.dunder in INFIX:
            return f"{paren(args[0])} {INFIX[self.dunder]} {paren(args[1])}"
        if self.dunder == "neg":
            return f"-{paren(args[0])}"
        if self.dunder == "abs":
            return f"abs({args[0]})"
        if self.method is None:
            raise ValueError(f"op {self.name!r} has no spelling: a user cannot call it directly")
        return f"{args[0]}.{self.method}({', '.join([*args[1:], *params])})"

    @property
    def either_reference(self) -> bool:
        """``c op x``: torch's reflected operator and its function differ, both sound."""
        return self.torch_reflected is not None

    def missing_facts(self) -> list[str]:
        """The facts a consumer needs that this row lacks (the unit tests require none)."""
        missing = []
        compared = self.public or bool(self.torch_name)
        for name, needed in (
            ("forward", self.forward is not None),
            ("torch_name", not self.public or self.torch_name.startswith("torch.")),
            ("exact", not compared or self.exact is not None),
            ("exact_grad", not compared or self.vjp is None or self.exact_grad is not None),
            ("sample_params", not self.params or not self.public or self.sample_params is not None),
            ("sweep_params", all(len(p) == len(self.params) for p in self.sweep_params or ())),
            ("domain", len(self.domain) >= 1),
            ("masks", all(0 <= k < self.arity for k in self.masks)),
        ):
            if not needed:
                missing.append(name)
        return missing

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


INFIX = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**", "floordiv": "//",
         "mod": "%"}
"""Python's binary operators by their dunder name (``__add__`` is ``+``)."""


def paren(source: str) -> str:
    """``source`` in parentheses where an operator next to it would bind differently."""
    return f"({source})" if source.startswith("-") or " " in source else source


def _torch_call(name: str) -> Callable[..., Any]:
    """``torch.nn.functional.softplus`` as a function of (the torch module, *args)."""
    path = name.split(".")[1:]

    def call(T: Any, *args: Any) -> Any:
        fn = T
        for part in path:
            fn = getattr(fn, part)
        return fn(*args)

    call.__name__ = call.__qualname__ = name.replace(".", "_")
    return call


def _user_call(op: Op) -> Callable[..., Any] | None:
    """The op as a user writes it: its operator (``operator.truediv`` is ``a / b``, and ``2 / a``
    through the reflected operator) or its method, parameters after the operands."""
    if op.dunder is not None:
        return getattr(operator, op.dunder)  # type: ignore[no-any-return]
    if op.method is None:
        return None
    name = op.method

    def call(a: Any, *rest: Any) -> Any:
        return getattr(a, name)(*rest)

    call.__name__ = call.__qualname__ = f"call_{name}"
    return call


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


def _log1p(F, g, a, out):
    # log1p_backward: grad / (self + 1)
    return F.div(g, a + 1.0)


def _expm1(F, g, a, out):
    return g * (out + 1.0)


def _atan(F, g, a, out):
    return F.div(g, a * a + 1.0)


def _atan2(F, g, a, b, out):
    # atan2_backward: recip = (self * self + other * other).reciprocal(), masked_fill_ to 0 where
    # that sum is 0 (so the origin gets 0, and a nan grad still passes)
    denom = a * a + b * b
    recip = 0.0 if F.val(denom) == 0.0 else F.div(1.0, denom)
    return g * b * recip, g * -a * recip


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
                   "torch's threshold_backward(grad, result, 0)",
                   kink=lambda g, out: g == 0.0 or out == 0.0)
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

# -- facts the harness reads: parameter samplers, exact (mpmath) rules, pieces of piecewise ops --
# A sampler draws from a conformance ``Source`` (``integer(lo, hi)``, ``uniform``, ``chance``).

SLOPES = (0.01, 0.1, 0.2, 2.0)
CLAMP_BOUNDS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def _pick(source: Any, items: tuple[Any, ...]) -> Any:
    return items[source.integer(0, len(items) - 1)]


def _sample_slope(source: Any) -> tuple[float]:
    return (_pick(source, SLOPES),)


def _sample_clamp(source: Any) -> tuple[float | None, float | None]:
    lo, hi = _pick(source, CLAMP_BOUNDS), _pick(source, CLAMP_BOUNDS)
    form = source.integer(0, 3)  # both bounds, only lo, only hi, or (rarely) lo > hi
    if form == 1:
        return (min(lo, hi), None)
    if form == 2:
        return (None, max(lo, hi))
    return (min(lo, hi), max(lo, hi)) if form == 0 or lo == hi else (max(lo, hi), min(lo, hi))


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


def _exact_pow_scalar_grad(mp: Any, a: Any, out: Any, e: float) -> tuple[Any] | None:
    da = _exact_base_grad(mp, a, mp.mpf(e))
    return None if da is None else (da,)


def _exact_extremum_grads(a: Any, b: Any, larger: bool) -> tuple[Any, Any]:
    if a == b:
        return 0.5, 0.5
    first = (a > b) == larger
    return (1, 0) if first else (0, 1)


def _exact_clamp(mp: Any, a: Any, lo: float | None, hi: float | None) -> Any:
    if lo is not None and a < lo:
        a = mp.mpf(lo)
    if hi is not None and a > hi:
        a = mp.mpf(hi)
    return a


def _inside(a: Any, lo: float | None, hi: float | None) -> bool:
    return (lo is None or a >= lo) and (hi is None or a <= hi)


def _sign(x: float) -> int:
    return (x > 0.0) - (x < 0.0)


def _extremum_branch(a: float, b: float) -> tuple[Any, ...]:
    return (a != a, b != b, (a > b) - (a < b))


def _clamp_branch(x: float, lo: float | None, hi: float | None) -> tuple[Any, ...]:
    return tuple(None if bound is None else (x > bound) - (x < bound) for bound in (lo, hi))


def _quotient_branch(a: float, b: float) -> tuple[Any, ...]:
    return (math.floor(a / b) if b != 0.0 and math.isfinite(a / b) else None,)


def _huge_quotient(a: float, b: float) -> bool:
    # d(a % b)/db is -floor(a / b): the k-th derivative sums terms of size quotient ** k that cancel
    return b != 0.0 and math.isfinite(a) and abs(a / b) > 1e6


_KINK0 = (0.0, -0.0)
_OPS: tuple[Op, ...] = (
    Op("add", 2, "+", _add_fwd, _add, "a + b", dunder="add",
       fast_back=_add_back, const_fast_back=(_add_const_back, _add_const_back),
       torch_name="torch.add",
       exact=lambda mp, a, b: a + b, exact_grad=lambda mp, a, b, out: (1, 1)),
    Op("sub", 2, "-", _sub_fwd, _sub, "a - b", dunder="sub",
       fast_back=_sub_back, const_fast_back=(_rsub_const_back, _sub_const_back),
       torch_name="torch.sub",
       exact=lambda mp, a, b: a - b, exact_grad=lambda mp, a, b, out: (1, -1)),
    Op("mul", 2, "*", _mul_fwd, _mul, "a * b", dunder="mul",
       fast_back=_mul_back, const_fast_back=(_mul_const_back, _mul_const_back),
       torch_name="torch.mul",
       exact=lambda mp, a, b: a * b, exact_grad=lambda mp, a, b, out: (b, a)),
    Op("div", 2, "/", ieee.div, _div,
       "a / b (true division; x/0 is ±inf or nan); number / Value is torch's reciprocal(b) * a",
       dunder="truediv", const_fast_back=(_rdiv_const_back, _div_const_back),
       reflected_forward=_rdiv_fwd, reflected_vjp=_rdiv,
       torch_name="torch.div",
       torch_reflected=lambda T, c, x: x.reciprocal() * c,
       domain=(ANY, (0.2, 3.0)), special=(0.0, -0.0, 1e-300),
       exact=lambda mp, a, b: a / b if b != 0 else None,
       exact_grad=lambda mp, a, b, out: None if b == 0 else (1 / b, -(a / b) / b)),
    Op("pow", 2, "**", ieee.pow, _pow, "a ** b (Value ** Value, number ** Value)", dunder="pow",
       torch_name="torch.pow", scalar_form="pow_scalar",
       domain=(POSITIVE, (-2.5, 2.5)), special=(0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.0),
       exact=_real_power, exact_grad=_exact_pow_grads, masks=(0,), masks_higher=True,
       branch=lambda a, b: (a == 0.0, b == 0.0, b >= 0.0),
       kink=lambda a, b: a == 0.0 or b == 0.0,
       leaks_nan=lambda a, b: a == 0.0 or b == 0.0, ulps=8,
       ordinary=lambda form, a, b: form[1] == "c" or a > 0.0),  # a Value exponent: log(base)
    Op("pow_scalar", 1, "**", ieee.pow_scalar, _pow_scalar,
       "a ** c for a constant number c (torch's pow(Tensor, Scalar))",
       params=(("exponent", 2.0),), torch_name="torch.pow",
       sweep_params=((2.0,), (0.0,), (0.5,), (-0.5,), (-1.0,), (3.0,), (-2.0,), (1.5,), (-1.5,)),
       exact=lambda mp, a, e: _real_power(mp, a, e), exact_grad=_exact_pow_scalar_grad, ulps=8),
    Op("maximum", 2, "maximum", ieee.maximum, _maximum,
       "larger of a and b; a tie splits the gradient in halves; nan propagates", method="maximum",
       torch_name="torch.maximum", special=(0.0, 1.0),
       exact=lambda mp, a, b: max(a, b),
       exact_grad=lambda mp, a, b, out: _exact_extremum_grads(a, b, larger=True),
       masks=(0, 1), masks_higher=True, branch=_extremum_branch, kink=lambda a, b: a == b),
    Op("minimum", 2, "minimum", ieee.minimum, _minimum,
       "smaller of a and b; a tie splits the gradient in halves; nan propagates", method="minimum",
       torch_name="torch.minimum", special=(0.0, 1.0),
       exact=lambda mp, a, b: min(a, b),
       exact_grad=lambda mp, a, b, out: _exact_extremum_grads(a, b, larger=False),
       masks=(0, 1), masks_higher=True, branch=_extremum_branch, kink=lambda a, b: a == b),
    Op("floordiv", 2, "//", ieee.floor_divide, None,
       "floor(a / b) as torch.floor_divide; not differentiable (backward raises, as in torch)",
       dunder="floordiv", torch_name="torch.floor_divide", domain=(ANY, (0.3, 3.0)), special=(0.0, -0.0),
       exact=lambda mp, a, b: mp.floor(a / b) if b != 0 else None,
       branch=_quotient_branch, ill_conditioned=_huge_quotient),
    Op("mod", 2, "%", ieee.remainder, _remainder,
       "torch.remainder: result has the sign of b; d/db = -floor(a / b)", dunder="mod",
       torch_name="torch.remainder",
       domain=(ANY, (0.3, 3.0)), special=(0.0, -0.0),
       exact=lambda mp, a, b: a - b * mp.floor(a / b) if b != 0 else None,
       exact_grad=lambda mp, a, b, out: None if b == 0 else (1, -mp.floor(a / b)),
       branch=_quotient_branch, ill_conditioned=_huge_quotient),
    Op("neg", 1, "neg", _neg_fwd, _neg, "-a", dunder="neg", fast_back=_neg_back,
       torch_name="torch.neg", domain=(ANY,),
       exact=lambda mp, a: -a, exact_grad=lambda mp, a, out: (-1,)),
    Op("abs", 1, "abs", _abs_fwd, _abs, "|a|; gradient 0 at 0 (torch.sgn)",
       dunder="abs", method="abs", torch_name="torch.abs",
       domain=(ANY,), special=_KINK0,
       exact=lambda mp, a: abs(a), exact_grad=lambda mp, a, out: (mp.sign(a),),
       masks_higher=True, branch=lambda a: (_sign(a),), kink=lambda a: a == 0.0),
    Op("exp", 1, "exp", ieee.exp, _exp, "e ** a; exp(1000) = inf", method="exp", fast_back=_exp_back,
       torch_name="torch.exp",
       domain=((-5.0, 5.0),), special=(709.0, 710.0, -745.0),
       exact=lambda mp, a: mp.exp(a), exact_grad=lambda mp, a, out: (out,), ulps=4),
    Op("log", 1, "log", ieee.log, _log, "natural log; log(0) = -inf, log(-1) = nan", method="log",
       torch_name="torch.log",
       domain=(POSITIVE,), special=(0.0, -0.0, -1.0),
       exact=lambda mp, a: mp.log(a) if a > 0 else None,
       exact_grad=lambda mp, a, out: None if a <= 0 else (1 / a,)),
    Op("sqrt", 1, "sqrt", ieee.sqrt, _sqrt, "square root; sqrt'(0) = inf, sqrt(-1) = nan",
       method="sqrt", torch_name="torch.sqrt", domain=(POSITIVE,), special=(0.0, -0.0, -1.0),
       exact=lambda mp, a: mp.sqrt(a) if a >= 0 else None,
       exact_grad=lambda mp, a, out: None if out <= 0 else (1 / (2 * out),), ulps=4),
    Op("sin", 1, "sin", ieee.sin, _sin, "sine; sin(inf) = nan", method="sin",
       torch_name="torch.sin", domain=(ANY,),
       exact=lambda mp, a: mp.sin(a), exact_grad=lambda mp, a, out: (mp.cos(a),), ulps=4),
    Op("cos", 1, "cos", ieee.cos, _cos, "cosine; cos(inf) = nan", method="cos",
       torch_name="torch.cos", domain=(ANY,),
       exact=lambda mp, a: mp.cos(a), exact_grad=lambda mp, a, out: (-mp.sin(a),), ulps=4),
    Op("tanh", 1, "tanh", math.tanh, _tanh, "hyperbolic tangent; grad 1 - tanh**2", method="tanh",
       fast_back=_tanh_back, torch_name="torch.tanh",
       domain=(ANY,), special=(20.0, -20.0),
       exact=lambda mp, a: mp.tanh(a), exact_grad=lambda mp, a, out: ((1 - out * out, 1),),
       ulps=8, ordinary=lambda form, a: abs(a) <= 9.0),  # e**2x finite; 1 - t**2 >= 6e-8
    Op("sigmoid", 1, "sigmoid", ieee.sigmoid, _sigmoid, "1 / (1 + exp(-a)); grad s * (1 - s)",
       method="sigmoid", torch_name="torch.sigmoid", domain=(ANY,), special=(40.0, -40.0, 1000.0, -1000.0),
       exact=lambda mp, a: 1 / (1 + mp.exp(-a)),
       exact_grad=lambda mp, a, out: (((1 - out) * out, abs(out)),),
       ordinary=lambda form, a: abs(a) <= 16.0),  # e**-x finite; 1 - s >= 1e-7
    Op("relu", 1, "ReLU", _relu_fwd, _relu, "max(a, 0); relu'(0) = 0", method="relu",
       fast_back=_relu_back, torch_name="torch.relu",
       domain=(ANY,), special=_KINK0,
       exact=lambda mp, a: a if a > 0 else mp.mpf(0),
       exact_grad=lambda mp, a, out: (1 if out > 0 else 0,),
       masks=(0,), masks_higher=True, branch=lambda a: (_sign(a),), kink=lambda a: a == 0.0),
    Op("leaky_relu", 1, "leaky_relu", _leaky_relu_fwd, _leaky_relu,
       "a if a > 0 else slope * a; gradient slope at 0", method="leaky_relu",
       params=(("slope", 0.01),), sample_params=_sample_slope, sweep_params=((0.01,), (0.2,)),
       torch_name="torch.nn.functional.leaky_relu", domain=(ANY,), special=_KINK0,
       exact=lambda mp, a, s: a if a > 0 else a * s,
       exact_grad=lambda mp, a, out, s: (1 if a > 0 else mp.mpf(s),),
       branch=lambda a, s: (_sign(a),)),
    Op("softplus", 1, "softplus", _softplus_fwd, _softplus,
       "log(1 + exp(a)), linear above a = 20 (torch's beta=1, threshold=20)", method="softplus",
       torch_name="torch.nn.functional.softplus", domain=(ANY,),
       special=(20.0, 20.000001, 19.999999, 15.0, 11.0, -800.0),
       exact=lambda mp, a: a if a > 20 else mp.log1p(mp.exp(a)),
       exact_grad=lambda mp, a, out: (1 if a > 20 else mp.exp(a) / (mp.exp(a) + 1),),
       branch=lambda a: (a > ieee.SOFTPLUS_THRESHOLD, a < ieee.SOFTPLUS_THRESHOLD),
       ordinary=lambda form, a: a <= 700.0),  # log(1 + e**a): e**a finite
    Op("clamp", 1, "clamp", ieee.clamp, _clamp,
       "min(max(a, lo), hi); either bound may be None; the bounds are inclusive (gradient 1)",
       method="clamp", params=(("lo", None), ("hi", None)), sample_params=_sample_clamp,
       sweep_params=((-1.0, 1.0), (0.0, None), (None, 0.5), (1.0, -1.0)),
       torch_name="torch.clamp", domain=(ANY,),
       exact=_exact_clamp, exact_grad=lambda mp, a, out, lo, hi: (1 if _inside(a, lo, hi) else 0,),
       masks=(0,), masks_higher=True, branch=_clamp_branch),
    # Added through the row alone (plus an IEEE-safe float function where math raises):
    Op("log1p", 1, "log1p", ieee.log1p, _log1p, "log(1 + a), exact near 0; log1p(-1) = -inf",
       method="log1p", torch_name="torch.log1p",
       domain=((-0.5, 5.0),), special=(-1.0, -2.0, 1e-17, -0.999999),
       exact=lambda mp, a: mp.log1p(a) if a > -1 else None,
       exact_grad=lambda mp, a, out: None if a <= -1 else (1 / (1 + a),), ulps=4),
    Op("expm1", 1, "expm1", ieee.expm1, _expm1, "exp(a) - 1, exact near 0; expm1(1000) = inf",
       method="expm1", torch_name="torch.expm1",
       domain=((-5.0, 5.0),), special=(709.0, 710.0, -40.0, 1e-17, -745.0),
       exact=lambda mp, a: mp.expm1(a), exact_grad=lambda mp, a, out: ((out + 1, abs(out) + 1),),
       ulps=16),  # the gradient out + 1 cancels: torch's expm1 is 1 ulp off C's at -2.5, 11 in it
    Op("atan", 1, "atan", ieee.atan, _atan, "arctangent; atan(±inf) = ±pi/2", method="atan",
       torch_name="torch.atan", domain=(ANY,),
       special=(1e155, -1e155, 1e-200),
       exact=lambda mp, a: mp.atan(a), exact_grad=lambda mp, a, out: (1 / (1 + a * a),), ulps=4),
    Op("atan2", 2, "atan2", ieee.atan2, _atan2,
       "angle of the point (b, a), in [-pi, pi]; the sign of a zero a picks ±pi for b < 0",
       method="atan2", torch_name="torch.atan2",
       special=(0.0, -0.0, 1e-200, 1e200),
       exact=lambda mp, a, b: None if a == 0 and b == 0 else mp.atan2(a, b),
       exact_grad=lambda mp, a, b, out: (None if a == 0 and b == 0
                                         else (b / (a * a + b * b), -a / (a * a + b * b))),
       # torch's masked_fill at the origin: higher derivatives there leak reciprocal's inf as nan
       masks_higher=True, kink=lambda a, b: a * a + b * b == 0.0,
       leaks_nan=lambda a, b: a * a + b * b == 0.0, ulps=4),
)

OPS: dict[str, Op] = {op.name: op for op in (*_OPS, *BACKWARD_OPS)}
"""Every primitive op by name."""

BY_SYMBOL: dict[str, Op] = {op.symbol: op for op in _OPS if op.name != "pow_scalar"}
"""Ops by their ``_op`` label, for nodes a user builds by hand (``Value(x, (a, b), '+')``)."""


def public_ops() -> list[Op]:
    """The ops a user calls directly (what the conformance harness tests)."""
    return [op for op in _OPS if op.public]


def markdown_table() -> str:
    """The op table as Markdown, for the docs."""
    rows = ["| op | arity | how to call | torch | differentiable | notes |", "|---|---|---|---|---|---|"]
    for op in public_ops():
        how = op.spell(["a", "b"][:op.arity], [f"{n}={d}" for n, d in op.params])
        rows.append(f"| `{op.name}` | {op.arity} | `{how}` | `{op.torch_name}` | "
                    f"{'yes' if op.differentiable else 'no (raises)'} | {op.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
