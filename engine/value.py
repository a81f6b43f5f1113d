"""``Value``: a scalar node of the autograd graph, with micrograd's API and PyTorch's semantics.

The graph is data, not closures: a node holds its value, its gradient, up to two parents and the op
(from :mod:`engine.ops`) that made it. The hottest operators are written out below, each computing
its forward and building its node inline (a function call costs about a third of a node); tests hold
them bit-identical to their op's row. Every other op of the table that has a spelling (``method``,
``dunder``) gets its method from a small factory reading the row, so a new row needs no edit here.
"""

from __future__ import annotations

import numbers
import threading
from types import FunctionType
from typing import Any, Callable, Iterable, SupportsIndex, TypeVar

from vetgrad.engine import backprop as _backprop
from vetgrad.engine import copying as _copying
from vetgrad.engine import ieee as _ieee
from vetgrad.engine.backprop import UNSET as _UNSET
from vetgrad.engine.backprop import UNTRACKED as _UNTRACKED
from vetgrad.engine.ops import BY_SYMBOL, OPS, BoundOp, ConstOp, HandBuiltOp, Op

# Grad mode is per thread, as torch's, but the hot operators read one module global (the cheapest
# check there is) and look at the thread's own mode only when it is False:
#   _grad_enabled is True  <=>  no thread has grad mode off (_threads_off == 0).
# Only set_grad_mode() writes either, under _mode_lock, and a thread's mode is changed only by that
# thread. So while a thread's mode is off, _threads_off >= 1 and the global is False whatever other
# threads do: a read of True (atomic, under any interleaving) means "record" for every thread; a
# read of False sends the op to _mode.enabled, the exact per-thread answer. Single-threaded code and
# threads that never call no_grad pay nothing while no thread is inside no_grad.
_grad_enabled = True


class _GradMode(threading.local):
    enabled = True  # a new thread records, as torch's (the mode is not inherited)


_mode = _GradMode()
_mode_lock = threading.Lock()
_threads_off = 0


def set_grad_mode(enabled: bool) -> bool:
    """Turn recording on or off in this thread only; return the previous mode (to restore)."""
    global _grad_enabled, _threads_off
    enabled = bool(enabled)
    with _mode_lock:
        previous = _mode.enabled
        if previous != enabled:
            _mode.enabled = enabled
            _threads_off += -1 if enabled else 1
            _grad_enabled = _threads_off == 0
    return previous


def grad_mode() -> bool:
    """Whether ops record history in this thread."""
    return _mode.enabled

# The specs a hot operator puts in its node: the op, and its ConstOps for a number on the left
# (c + x: _C_ADD) or the right (x + c: _ADD_C). backward() dispatches on their identity.
_ADD, _SUB, _MUL, _DIV = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"]
_C_ADD, _ADD_C = _ADD.const_left, _ADD.const_right
_C_SUB, _SUB_C = _SUB.const_left, _SUB.const_right
_C_MUL, _MUL_C = _MUL.const_left, _MUL.const_right
_C_DIV, _DIV_C = _DIV.const_left, _DIV.const_right
_NEG, _ABS, _RELU, _TANH, _EXP = OPS["neg"], OPS["abs"], OPS["relu"], OPS["tanh"], OPS["exp"]
_POW_SCALAR = OPS["pow_scalar"]
_LEAKY = OPS["leaky_relu"]
_CLAMP = OPS["clamp"]
# Forwards the hot operators call (the rows' own functions).
_div, _tanh, _exp = _DIV.forward, _TANH.forward, _EXP.forward

_new = object.__new__

Method = TypeVar("Method", bound=Callable[..., Any])
_HAND_WRITTEN: dict[Callable[..., Any], str] = {}  # method -> name of the op it spells


def _spells(op_name: str) -> Callable[[Method], Method]:
    """Mark a method of ``Value`` as written by hand for op ``op_name``: it gets the row's doc
    (unless it has its own), and the installer below leaves its name alone."""
    op = OPS[op_name]

    def mark(method: Method) -> Method:
        _HAND_WRITTEN[method] = op.name
        if method.__doc__ is None:
            method.__doc__ = op.doc
        return method

    return mark


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

    __slots__ = ("__weakref__", "_a", "_b", "_label", "_spec", "data", "grad")

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

    def backward(self, gradient: float | Value | None = 1.0) -> None:
        """Accumulate d(self)/d(node) * gradient into ``.grad`` of every node reachable from
        ``self`` (``gradient``: a real number, a Value's value, or None for 1.0).

        Calling it twice adds the same amount twice (torch's ``retain_graph=True``). Raises, as
        torch does, from a result of ``no_grad()`` or ``detach()``: it has no history."""
        if self._spec is _UNTRACKED:
            raise RuntimeError(no_history(0))
        seed = gradient_seed(gradient, "backward() gradient")
        _backprop.backward(self, seed if seed.__class__ is float else seed.data)

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        """Pickle support at any graph depth (ancestors first, no recursion; engine.copying)."""
        return _copying.reduce_node(self)

    def __copy__(self) -> Value:
        """A new node with the same value, gradient, op and parents."""
        return _copying.copy_node(self)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A copy of the whole graph behind this node, iteratively (any depth)."""
        return _copying.deepcopy_graph(self, memo)  # type: ignore[no-any-return]

    def detach(self) -> Value:
        """A new leaf with the same value and no history; as torch's, it does not require grad
        (``backward()`` from it raises)."""
        return _untracked(self.data)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node it was computed from."""
        _backprop.zero_grad_graph(self)

    # -- the hot operators, written out (forward inline, then the node as _node builds it) -------
    # A Value operand is a parent; a plain number stays a float in _b with the op's ConstOp (no leaf
    # node for a constant); anything else is NotImplemented, so that Python raises its TypeError.

    @_spells("add")
    def __add__(self, other: Value | float) -> Value:
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            data = self.data + other.data
            if not _grad_enabled and not _mode.enabled:
                return _untracked(data)
            out = _new(Value)
            out.data = data
            out.grad = _UNSET
            out._a = self
            out._b = other
            out._spec = _ADD
            return out
        b = other if cls is float else _operand(other)
        if b is NotImplemented:
            return NotImplemented
        data = self.data + b
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = b
        out._spec = _ADD_C
        return out

    @_spells("add")
    def __radd__(self, other: float) -> Value:
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        data = a + self.data
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = a
        out._spec = _C_ADD
        return out

    @_spells("sub")
    def __sub__(self, other: Value | float) -> Value:
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            data = self.data - other.data
            if not _grad_enabled and not _mode.enabled:
                return _untracked(data)
            out = _new(Value)
            out.data = data
            out.grad = _UNSET
            out._a = self
            out._b = other
            out._spec = _SUB
            return out
        b = other if cls is float else _operand(other)
        if b is NotImplemented:
            return NotImplemented
        data = self.data - b
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = b
        out._spec = _SUB_C
        return out

    @_spells("sub")
    def __rsub__(self, other: float) -> Value:
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        data = a - self.data
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = a
        out._spec = _C_SUB
        return out

    @_spells("mul")
    def __mul__(self, other: Value | float) -> Value:
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            data = self.data * other.data
            if not _grad_enabled and not _mode.enabled:
                return _untracked(data)
            out = _new(Value)
            out.data = data
            out.grad = _UNSET
            out._a = self
            out._b = other
            out._spec = _MUL
            return out
        b = other if cls is float else _operand(other)
        if b is NotImplemented:
            return NotImplemented
        data = self.data * b
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = b
        out._spec = _MUL_C
        return out

    @_spells("mul")
    def __rmul__(self, other: float) -> Value:
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        data = a * self.data
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = a
        out._spec = _C_MUL
        return out

    @_spells("div")
    def __truediv__(self, other: Value | float) -> Value:
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            data = _div(self.data, other.data)
            if not _grad_enabled and not _mode.enabled:
                return _untracked(data)
            out = _new(Value)
            out.data = data
            out.grad = _UNSET
            out._a = self
            out._b = other
            out._spec = _DIV
            return out
        b = other if cls is float else _operand(other)
        if b is NotImplemented:
            return NotImplemented
        data = _div(self.data, b)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = b
        out._spec = _DIV_C
        return out

    @_spells("div")
    def __rtruediv__(self, other: float) -> Value:
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        data = _div(1.0, self.data) * a  # div's reflected_forward: torch's reciprocal(x) * c
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = a
        out._spec = _C_DIV
        return out

    @_spells("neg")
    def __neg__(self) -> Value:
        data = -self.data
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = _NEG
        return out

    @_spells("abs")
    def __abs__(self) -> Value:
        data = abs(self.data)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = _ABS
        return out

    abs = __abs__  # x.abs() is abs(x)

    @_spells("relu")
    def relu(self) -> Value:
        a = self.data
        data = 0.0 if a < 0.0 else a  # keeps -0.0 and nan, as torch.relu does
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = _RELU
        return out

    @_spells("tanh")
    def tanh(self) -> Value:
        data = _tanh(self.data)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = _TANH
        return out

    @_spells("exp")
    def exp(self) -> Value:
        data = _exp(self.data)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = _EXP
        return out

    # -- ops with parameters, or with forms that depend on the operand ---------------------------

    @_spells("pow")
    def __pow__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return _pow_values(self, other)
        exponent = _operand(other)
        if exponent is NotImplemented:
            return NotImplemented
        data = _ieee.pow_scalar(self.data, exponent)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        return _node(data, self, None, _POW_SCALAR.bind(exponent))

    @_spells("pow")
    def __rpow__(self, other: float) -> Value:
        base = _operand(other)
        if base is NotImplemented:
            return NotImplemented
        return _pow_values(_leaf(base), self)

    @_spells("leaky_relu")
    def leaky_relu(self, slope: float = 0.01) -> Value:
        """``self if self > 0 else slope * self`` (torch's default slope 0.01)."""
        slope = _coerce(slope, "leaky_relu slope")
        spec = _LEAKY.bind(slope)
        data = spec.op.forward(self.data, slope)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        return _node(data, self, None, spec)

    @_spells("clamp")
    def clamp(self, lo: float | None = None, hi: float | None = None) -> Value:
        """Limit to ``[lo, hi]``; either bound may be None. Bounds are inclusive for gradients."""
        if lo is None and hi is None:
            raise ValueError("clamp needs at least one of lo and hi")
        lo = None if lo is None else _coerce(lo, "clamp lo")
        hi = None if hi is None else _coerce(hi, "clamp hi")
        spec = _CLAMP.bind(lo, hi)
        data = spec.op.forward(self.data, lo, hi)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        return _node(data, self, None, spec)


def _node(data: float, a: Value, b: Value | float | None, spec: Any) -> Value:
    # The hot operators and the factories' methods inline this body: a call costs a third of an op.
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


def no_history(index: int) -> str:
    """torch's message for a root without history, and where such a root comes from."""
    return (f"element {index} of outputs does not require grad and does not have a grad_fn: it was "
            "computed under no_grad() or by detach(), so there is nothing to back-propagate")


def gradient_seed(g: Any, what: str) -> float | Value:
    """A gradient given to backward() or grad(): None is 1.0, a real number a float, a Value
    stays; anything else (a str, a bool, a list) is a TypeError naming it, as in torch."""
    if g.__class__ is float:  # the usual case, before the ABC check below
        return g  # type: ignore[no-any-return]
    if g is None:
        return 1.0
    if isinstance(g, Value):
        return g
    if isinstance(g, numbers.Real) and not isinstance(g, bool):
        return float(g)
    raise TypeError(f"{what} must be a real number, a Value or None, but got "
                    f"{type(g).__name__}: {g!r}")


def _untracked(data: float) -> Value:
    # A result under no_grad(): a leaf that backward() refuses as a root, as torch does.
    out = _new(Value)
    out.data = data
    out.grad = _UNSET
    out._a = out._b = None
    out._spec = _UNTRACKED
    return out


def _call_backward_op(op: Op, *args: Any) -> Value:
    """A node of backward op ``op`` (inputs, then parameters; a number input becomes a leaf):
    ``F.call`` of the VJP rules when gradients are built with history (``create_graph``)."""
    inputs = [x if isinstance(x, Value) else _leaf(float(x)) for x in args[:op.arity]]
    params = args[op.arity:]
    data = op.forward(*(x.data for x in inputs), *params)
    if not _grad_enabled and not _mode.enabled:
        return _untracked(data)
    return _node(data, inputs[0], inputs[1] if op.arity == 2 else None, op.bind(*params) if params else op)


class ValueMath:
    """The ``F`` of VJP rules on ``Value`` objects (``create_graph=True``); engine.ops.FLOAT is
    the one on floats."""

    call = staticmethod(_call_backward_op)  # call(op, *inputs, *params): a node of a backward op

    @staticmethod
    def leaf(x: float) -> Value:
        return _leaf(float(x))

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        # torch's formulas divide tensors: a float numerator is a leaf, not ``c / x`` (which is
        # torch's reciprocal(x) * c and would turn 0 / 1e-300 into 0 * inf = nan)
        return (_leaf(float(a)) if isinstance(a, (int, float)) else a) / b

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return a**b

    pow_scalar = pow

    @staticmethod
    def val(x: Any) -> float:
        return x.data if hasattr(x, "data") else x  # type: ignore[no-any-return]

    @staticmethod
    def exp(a: Any) -> Any:
        return a.exp()

    @staticmethod
    def sigmoid(a: Any) -> Any:
        return a.sigmoid()

    @staticmethod
    def log(a: Any) -> Any:
        return a.log()

    @staticmethod
    def sin(a: Any) -> Any:
        return a.sin()

    @staticmethod
    def cos(a: Any) -> Any:
        return a.cos()


VALUE = ValueMath


def _operand(x: Any) -> Any:
    """A plain number on one side of an operator, as a float; NotImplemented for anything else,
    so that Python raises its usual TypeError naming both operand types."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    return NotImplemented


def _pow_values(a: Value, b: Value) -> Value:
    data = _ieee.pow(a.data, b.data)
    if not _grad_enabled and not _mode.enabled:
        return _untracked(data)
    return _node(data, a, b, OPS["pow"])


def _refuse(other: Any, method: str) -> None:
    raise TypeError(f"{method}() needs a Value or a real number (int or float), "
                    f"got {type(other).__name__}: {other!r}")


# -- every other op of the table: methods made from the row ---------------------------------------


def _unary_method(op: Op) -> Callable[[Value], Value]:
    """``x.name()`` for a unary op: the row's forward, then the node."""
    forward = op.forward

    def method(self: Value) -> Value:
        data = forward(self.data)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = None
        out._spec = op
        return out

    return method


def _unary_method_with_params(op: Op) -> Callable[..., Value]:
    """``x.name(p1, p2=...)`` for a unary op with constant parameters (each a real number, or
    None where the row's default is None): the row's defaults fill in what is not given."""
    forward = op.forward
    names = [name for name, _ in op.params]
    defaults = dict(op.params)

    def method(self: Value, *args: Any, **kwargs: Any) -> Value:
        if len(args) > len(names):
            raise TypeError(f"{op.method}() takes at most {len(names)} parameters "
                            f"({', '.join(names)}), got {len(args)}")
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"{op.method}() got an unexpected parameter {sorted(unknown)[0]!r}; "
                            f"its parameters: {', '.join(names)}")
        given = dict(zip(names, args))
        clash = set(given) & set(kwargs)
        if clash:
            raise TypeError(f"{op.method}() got parameter {sorted(clash)[0]!r} twice")
        given.update(kwargs)
        params = tuple(_param(op, name, given.get(name, defaults[name])) for name in names)
        data = forward(self.data, *params)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        return _node(data, self, None, op.bind(*params))

    return method


def _param(op: Op, name: str, value: Any) -> float | None:
    if value is None and dict(op.params)[name] is None:
        return None
    return _coerce(value, f"{op.method} {name}")


def _binary_methods(op: Op, dunder: bool) -> tuple[Callable[[Value, Any], Value], Callable[[Value, Any], Value]]:
    """``x op y`` and its reflected form ``c op x`` for a binary op, like the hot operators above.
    An operator (``dunder``) answers NotImplemented to an operand it does not know, so that Python
    can try the other side; a named method (``x.maximum(y)``) raises a TypeError at once."""
    forward = op.forward
    reflected_forward = op.reflected_forward or forward
    const_left, const_right = op.const_left, op.const_right
    name = op.method or op.name

    def method(self: Value, other: Any) -> Value:
        cls = other.__class__
        if cls is Value or (cls is not float and isinstance(other, Value)):
            data = forward(self.data, other.data)
            if not _grad_enabled and not _mode.enabled:
                return _untracked(data)
            out = _new(Value)
            out.data = data
            out.grad = _UNSET
            out._a = self
            out._b = other
            out._spec = op
            return out
        b = other if cls is float else _operand(other)
        if b is NotImplemented:
            if dunder:
                return NotImplemented
            _refuse(other, name)
        data = forward(self.data, b)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = b
        out._spec = const_right
        return out

    def reflected(self: Value, other: Any) -> Value:
        a = other if other.__class__ is float else _operand(other)
        if a is NotImplemented:
            return NotImplemented
        data = reflected_forward(a, self.data)
        if not _grad_enabled and not _mode.enabled:
            return _untracked(data)
        out = _new(Value)
        out.data = data
        out.grad = _UNSET
        out._a = self
        out._b = a
        out._spec = const_left
        return out

    return method, reflected


def _names_of(op: Op) -> list[str]:
    """The names a row asks ``Value`` for: ``__op__`` and (binary) ``__rop__`` from ``dunder``,
    and ``method``."""
    names = []
    if op.dunder:
        names.append(f"__{op.dunder}__")
        if op.arity == 2:
            names.append(f"__r{op.dunder}__")
    if op.method:
        names.append(op.method)
    return names


def _methods_of(op: Op) -> dict[str, Callable[..., Any]]:
    """A row's methods by name, made by the factories (for a unary op with a dunder and a method,
    one function: ``x.abs()`` is ``abs(x)``)."""
    if op.params and (op.arity != 1 or op.dunder):
        raise TypeError(f"op {op.name!r} has parameters {op.params}: only a unary method can take "
                        "them from the row; write its Value method by hand in engine/value.py "
                        "(marked @_spells)")
    made: dict[str, Callable[..., Any]] = {}
    if op.arity == 1:
        method = _unary_method_with_params(op) if op.params else _unary_method(op)
        for name in _names_of(op):
            made[name] = method
    else:
        if op.dunder:
            made[f"__{op.dunder}__"], made[f"__r{op.dunder}__"] = _binary_methods(op, dunder=True)
        if op.method:
            made[op.method] = _binary_methods(op, dunder=False)[0]
    named = set()
    for name, function in made.items():
        if function not in named:  # the first name of a shared function is its own
            named.add(function)
            function.__doc__ = op.doc
            function.__name__ = name
            function.__qualname__ = f"Value.{name}"  # pickle finds a method by this name
    return made


def _spelled(value: Any) -> str | None:
    """The op a class attribute was written by hand for, if it is such a method."""
    return _HAND_WRITTEN.get(value) if isinstance(value, FunctionType) else None


def _install(cls: type, rows: Iterable[Op]) -> None:
    """Give ``cls`` every method the ``rows`` ask for, except those written by hand above (marked
    @_spells); any other name already taken is a mistake in the table."""
    for name, value in list(cls.__dict__.items()):
        op_name = _spelled(value)
        if op_name is not None and name not in _names_of(OPS[op_name]):
            raise TypeError(f"Value.{name} is marked as op {op_name!r}, whose row does not ask for it")
    for op in rows:
        names = [name for name in _names_of(op) if _spelled(cls.__dict__.get(name)) != op.name]
        if not names:
            continue
        made = _methods_of(op)
        for name in names:
            if name in cls.__dict__:
                raise TypeError(f"op {op.name!r} asks for Value.{name}, which Value already has")
            setattr(cls, name, made[name])


_install(Value, OPS.values())
