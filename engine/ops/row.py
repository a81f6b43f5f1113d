"""What a row of the op table is: :class:`Op`, its forms with a constant operand
(:class:`ConstOp`) or fixed parameters (:class:`BoundOp`), and the backward steps made from a VJP
rule. The rows themselves are in the family modules of :mod:`engine.ops`.

A VJP rule is written once for two number systems: ``F`` is either :data:`FLOAT` (plain floats,
IEEE-safe functions) or :data:`engine.autograd.VALUE` (``Value`` arithmetic, so that gradients can
themselves be differentiated). Arguments: ``F, g, *inputs, out, *params``; a unary rule returns the
gradient of its input, a binary rule a pair. Rules follow ``tools/autograd/derivatives.yaml`` of
PyTorch, including the order of floating-point operations, so results agree to the last bit where
possible.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from vetgrad.engine import ieee

TABLE: dict[str, Op] = {}
"""Every row by name, filled by :mod:`engine.ops` (``OPS`` there is this dict)."""


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


FLOAT = FloatMath
"""The ``F`` of rules on floats (``Value``'s is :data:`engine.autograd.VALUE`)."""

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
    and ``const_fast_back`` for a constant operand on the left or right), and give their float
    code as templates (``code``: ``Value``'s operators inline its forwards, the compiled replay
    all of it; ``numpy``: the batched replay); ``backward()`` repeats the commonest steps inline
    (a call costs about a third of a node). engine/inlined.py lists every hand-written copy, and
    tests hold each copy and template bit-identical to ``forward`` and ``vjp``.
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
    # -- source templates: engine.templates (compiled replay) and engine.batch_templates (numpy
    # columns) are derived from these, and Value's operators inline ``code``'s forwards --
    # ``code``: form -> (forward, one backward expression per operand that gets a gradient) on
    # floats; forms "nn" (two nodes), "n" (unary), "nc" (x op c), "cn" (c op x); placeholders
    # {a} {b} the operands' values, {c} a constant (a literal), {out} the node's value, {g} its
    # gradient; None where the form calls the row. The names are engine.templates.NAMESPACE's.
    code: dict[str, tuple[str | None, tuple[str, ...] | None]] = field(default_factory=dict, repr=False)
    code_const_ok: Callable[[float], bool] | None = field(default=None, repr=False)  # "nc" needs it
    # ``numpy``: (forward, backward) on columns, {a} {b} the operands in the op's order, {p0} {p1}
    # its parameters; a backward is one expression per operand or one giving the pair; the names
    # are engine.batch_kernels.NAMESPACE's. ``numpy_reflected``: the same for "cn" where c op x
    # is another formula (c / x). None: the row's float function per element.
    numpy: tuple[str | None, tuple[str, ...] | str | None] = field(default=(None, None), repr=False)
    numpy_reflected: tuple[str | None, tuple[str, ...] | str | None] | None = field(default=None, repr=False)
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
        if TABLE.get(self.name) is not self:
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
    op = TABLE.get(name)
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
