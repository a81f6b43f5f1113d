"""``Value``: a scalar node of the autograd graph, with micrograd's API and PyTorch's semantics.

The graph is data, not closures: a node holds its value, its gradient, up to two parents and the op
(from :mod:`engine.ops`) that made it. Operators and methods are installed from the op table.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Iterable

from engine import ops as _ops
from engine.ops import BY_SYMBOL, OPS, BoundOp, ConstOp, HandBuiltOp, Op

globals().update(_ops.SOURCE_NAMESPACE)  # names the ops' source text may use

# Flipped by engine.autograd.no_grad(); read on every op (a plain global is the cheapest check).
_grad_enabled = True

# The grad of a node that no backward() has reached since it was made or zeroed: torch's None.
# backward() tells it by identity (this very object) and assigns to it instead of adding, so a
# first -0.0 gradient keeps its sign as in torch; any other 0.0 is an accumulated zero.
_UNSET = 0.0


def _coerce(x: Any, what: str) -> float:
    """Turn a real number into a float, or raise a TypeError that names what was given."""
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        return float(x)
    got = type(x).__name__
    hint = " (use .data, or .detach() for a constant copy)" if isinstance(x, Value) else ""
    raise TypeError(f"{what} must be a real number (int or float), got {got}: {x!r}{hint}")


class Value:
    """A scalar that records the operations applied to it, so that ``backward()`` can compute
    gradients. ``Value(data, _children=(), _op='', label='')`` as in micrograd."""

    __slots__ = ("_a", "_b", "_label", "_spec", "data", "grad")

    data: float
    grad: float

    def __init__(
        self,
        data: float | int,
        _children: Iterable[Value] = (),
        _op: str = "",
        label: str = "",
    ) -> None:
        if type(data) is not float:
            data = _coerce(data, "Value data")
        if type(label) is not str:
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        parents: tuple[Value | None, Value | None] = (None, None)
        spec: Any = None
        if _children:
            kids = tuple(_children)
            for kid in kids:
                if not isinstance(kid, Value):
                    raise TypeError(f"Value _children must be Values, got {type(kid).__name__}")
            if len(kids) > 2:
                raise ValueError(f"a vetgrad node has at most two parents, got {len(kids)}")
            parents = (kids[0], kids[1] if len(kids) == 2 else None)
            if type(_op) is not str:
                raise TypeError(f"Value _op must be a str, got {type(_op).__name__}")
            known = BY_SYMBOL.get(_op)
            spec = known if known is not None and known.arity == len(kids) else HandBuiltOp(_op or "?")
        self.data = data
        self.grad = _UNSET
        self._a, self._b = parents
        self._spec = spec
        self._label = label

    # -- micrograd compatibility ---------------------------------------------------------------
    @property
    def label(self) -> str:
        """A name for pictures (``draw_dot``); '' unless set. Nodes made by ops start without one,
        which saves a store on every op."""
        try:
            return self._label
        except AttributeError:
            return ""

    @label.setter
    def label(self, text: str) -> None:
        self._label = text

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The parents, in order (micrograd's ``_prev``; a tuple, never a set). A constant operand
        (``x * 2.0``) is kept as a float and shown here as a new leaf on each access."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (a,)
        if b.__class__ is float:
            return self._spec.operands(a, _leaf(b))
        return (a, b)

    @property
    def _op(self) -> str:
        """The label of the op that made this node ('' for a leaf), as micrograd shows it."""
        spec = self._spec
        return "" if spec is None else spec.symbol

    @property
    def op(self) -> Op | None:
        """The op-table entry that made this node, or None for a leaf or a hand-built node."""
        spec = self._spec
        if isinstance(spec, (BoundOp, ConstOp)):
            return spec.op
        return spec if isinstance(spec, Op) else None

    @property
    def params(self) -> tuple[Any, ...]:
        """The constant parameters of this node's op (slope, bounds, exponent), if any."""
        spec = self._spec
        return spec.params if isinstance(spec, BoundOp) else ()  # ConstOp: none

    def _backward(self) -> None:
        """Push this node's ``grad`` into its parents' grads (one step of ``backward()``)."""
        spec = self._spec
        if spec is not None:
            spec.back(self)

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __float__(self) -> float:
        return self.data

    def backward(self, gradient: float = 1.0) -> None:
        """Accumulate d(self)/d(node) into ``.grad`` of every node reachable from ``self``.

        Calling it twice adds the same amount twice (torch's ``retain_graph=True``)."""
        _autograd.backward(self, gradient)

    def detach(self) -> Value:
        """A new leaf with the same value and no history."""
        return Value(self.data)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node it was computed from."""
        _autograd.zero_grad_graph(self)

    # Installed from the op table below (declared here for type checkers and editors).
    if TYPE_CHECKING:
        def __add__(self, other: Value | float) -> Value: ...
        def __radd__(self, other: float) -> Value: ...
        def __sub__(self, other: Value | float) -> Value: ...
        def __rsub__(self, other: float) -> Value: ...
        def __mul__(self, other: Value | float) -> Value: ...
        def __rmul__(self, other: float) -> Value: ...
        def __truediv__(self, other: Value | float) -> Value: ...
        def __rtruediv__(self, other: float) -> Value: ...
        def __floordiv__(self, other: Value | float) -> Value: ...
        def __rfloordiv__(self, other: float) -> Value: ...
        def __mod__(self, other: Value | float) -> Value: ...
        def __rmod__(self, other: float) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def abs(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def softplus(self) -> Value: ...
        def maximum(self, other: Value | float) -> Value: ...
        def minimum(self, other: Value | float) -> Value: ...

    def __pow__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return _pow_values(self, other)
        exponent = _operand(other)
        if exponent is NotImplemented:
            return NotImplemented
        data = _ops.ieee.pow_scalar(self.data, exponent)
        return _node(data, self, None, _POW_SCALAR.bind(exponent)) if _grad_enabled else _leaf(data)

    def __rpow__(self, other: float) -> Value:
        base = _operand(other)
        if base is NotImplemented:
            return NotImplemented
        return _pow_values(_leaf(base), self)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """``self if self > 0 else slope * self`` (torch's default slope 0.01)."""
        slope = _coerce(slope, "leaky_relu slope")
        spec = _LEAKY.bind(slope)
        data = spec.op.forward(self.data, slope)
        return _node(data, self, None, spec) if _grad_enabled else _leaf(data)

    def clamp(self, lo: float | None = None, hi: float | None = None) -> Value:
        """Limit to ``[lo, hi]``; either bound may be None. Bounds are inclusive for gradients."""
        if lo is None and hi is None:
            raise ValueError("clamp needs at least one of lo and hi")
        lo = None if lo is None else _coerce(lo, "clamp lo")
        hi = None if hi is None else _coerce(hi, "clamp hi")
        spec = _CLAMP.bind(lo, hi)
        data = spec.op.forward(self.data, lo, hi)
        return _node(data, self, None, spec) if _grad_enabled else _leaf(data)


_new = object.__new__
_POW_SCALAR = OPS["pow_scalar"]
_LEAKY = OPS["leaky_relu"]
_CLAMP = OPS["clamp"]


def _node(data: float, a: Value, b: Value | None, spec: Any) -> Value:
    # The generated operator methods inline this body (_NODE_SOURCE): a call costs a third of an op.
    out = _new(Value)
    out.data = data
    out.grad = _UNSET
    out._a = a
    out._b = b
    out._spec = spec
    return out


def _leaf(data: float) -> Value:
    out = _new(Value)
    out.data = data
    out.grad = _UNSET
    out._a = out._b = out._spec = None
    return out


def _call_backward_op(op: Op, *args: Any) -> Value:
    """A node of backward op ``op`` (inputs, then parameters; a number input becomes a leaf):
    ``F.call`` of the VJP rules when gradients are built with history (``create_graph``)."""
    inputs = [x if isinstance(x, Value) else _leaf(float(x)) for x in args[:op.arity]]
    params = args[op.arity:]
    data = op.forward(*(x.data for x in inputs), *params)  # type: ignore[misc]
    if not _grad_enabled:
        return _leaf(data)
    return _node(data, inputs[0], inputs[1] if op.arity == 2 else None, op.bind(*params) if params else op)


_ops.ValueMath.call = staticmethod(_call_backward_op)
_ops.ValueMath.leaf = staticmethod(lambda x: _leaf(float(x)))


def _operand(x: Any) -> Any:
    """A plain number on one side of an operator, as a float; NotImplemented for anything else,
    so that Python raises its usual TypeError naming both operand types."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    return NotImplemented


def _pow_values(a: Value, b: Value) -> Value:
    data = _ops.ieee.pow(a.data, b.data)
    return _node(data, a, b, OPS["pow"]) if _grad_enabled else _leaf(data)


# The operator methods are generated from the op table, so that an op with source text
# (``op.expr``) computes its forward inline instead of calling it (a call costs about a third of
# a node). One template per arity; ``fwd`` and the specs are the closure's cells. Every method
# ends in the same node construction, _node's body written out (parent b and spec vary).
_NODE_SOURCE = """
if not _grad_enabled:
    return _leaf(data)
out = _new(Value)
out.data = data
out.grad = _UNSET
out._a = self
out._b = {b}
out._spec = {spec}
return out
"""

_BINARY_TEMPLATE = """
def make(op, fwd, const_left, const_right):
    def method(self, other):
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            a = self.data
            b = other.data
            data = {{forward}}
{both_values}\
        b = other if cls is float else _operand(other)  # a constant stays a float in _b (ConstOp)
        if b is NotImplemented:
            {{refuse}}
        a = self.data
        data = {{forward}}
{const_right}\

    def reflected(self, other):
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        b = self.data
        data = {{reflected}}
{const_left}\

    return method, reflected
""".format(both_values=_ops.indent(_NODE_SOURCE.format(b="other", spec="op"), 12),
           const_right=_ops.indent(_NODE_SOURCE.format(b="b", spec="const_right"), 8),
           const_left=_ops.indent(_NODE_SOURCE.format(b="a", spec="const_left"), 8))

_UNARY_TEMPLATE = """
def make(op, fwd):
    def method(self):
        a = self.data
        data = {{forward}}
{node}\

    return method
""".format(node=_ops.indent(_NODE_SOURCE.format(b="None", spec="op"), 8))


def _refuse(other: Any, method: str) -> None:
    raise TypeError(f"{method}() needs a Value or a real number (int or float), "
                    f"got {type(other).__name__}: {other!r}")


def _generated_methods(op: Op, dunder: bool = True) -> Any:
    """``op``'s method (and reflected method, for a binary op), compiled from the template. An
    operator (``dunder``) answers NotImplemented to an operand it does not know, so that Python
    can try the other side; a named method (``x.maximum(y)``) raises a TypeError at once."""
    template = _BINARY_TEMPLATE if op.arity == 2 else _UNARY_TEMPLATE
    forward = f"({op.expr})" if op.expr else ("fwd(a, b)" if op.arity == 2 else "fwd(a)")
    reflected = f"({op.reflected_expr})" if op.reflected_expr else forward
    refuse = "return NotImplemented" if dunder else f"_refuse(other, {op.method!r})"
    source = template.format(forward=forward, reflected=reflected, refuse=refuse)
    # Compiled in this module's own namespace, so that _grad_enabled is read live.
    namespace = _ops.compile_source(source, f"<vetgrad op {op.name}: Value method>", globals())
    make = namespace.pop("make")
    made = make(op, op.forward, op.const_left, op.const_right) if op.arity == 2 else make(op, op.forward)
    for method in made if op.arity == 2 else (made,):
        method.__doc__ = op.doc
        method.__module__ = __name__
    return made


def _install() -> None:
    for op in OPS.values():
        if op.name in ("pow", "pow_scalar", "leaky_relu", "clamp"):
            continue  # have parameters or operand-dependent forms: written out above
        if op.dunder:
            made = _generated_methods(op)
            method, reflected = made if op.arity == 2 else (made, None)
            _set_method(f"__{op.dunder}__", method)
            if reflected is not None:
                _set_method(f"__r{op.dunder}__", reflected)
            if op.method and op.arity == 1:
                setattr(Value, op.method, method)  # x.abs() is abs(x)
        if op.method and (op.arity == 2 or not op.dunder):
            made = _generated_methods(op, dunder=False)
            _set_method(op.method, made[0] if op.arity == 2 else made)


def _set_method(name: str, function: Any) -> None:
    function.__qualname__ = f"Value.{name}"  # pickle finds a method by this name
    setattr(Value, name, function)


_install()

from engine import autograd as _autograd  # noqa: E402 - autograd imports this module first
