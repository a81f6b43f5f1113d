"""``Value``: a scalar node of the autograd graph, with micrograd's API and PyTorch's semantics.

The graph is data, not closures: a node holds its value, its gradient, up to two parents and the op
(from :mod:`engine.ops`) that made it. Every op of the table that has a spelling (``method``,
``dunder``) gets its methods made from its row by :mod:`engine.methods` (one source template of
a method, with the row's forward inline where the row gives it as code, ``Op.code``): each
computes its forward and builds its node inline, with no call (a call costs about a third of a
node), so the hot operators are as fast as if written out here, and a new row needs no edit here.
Only the spellings that take parameters or depend on the operand (``**``, leaky_relu, clamp) are
written by hand below.
"""

from __future__ import annotations

import numbers
import threading
from typing import Any, Iterable, SupportsIndex

from vetgrad.engine import backprop as _backprop
from vetgrad.engine import copying as _copying
from vetgrad.engine import ieee as _ieee
from vetgrad.engine import methods as _methods
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


_POW_SCALAR, _LEAKY, _CLAMP = OPS["pow_scalar"], OPS["leaky_relu"], OPS["clamp"]

_new = object.__new__

_spells = _methods.spells


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
    # The methods made from the rows inline this body (engine/methods.py): a call costs a third of
    # an op.
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


def call_op(op: Op, *args: Any) -> Value:
    """A node of backward op ``op`` (inputs, then parameters; a number input becomes a leaf):
    ``F.call`` of the VJP rules when gradients are built with history (``create_graph``,
    engine.autograd.VALUE)."""
    inputs = [x if isinstance(x, Value) else _leaf(float(x)) for x in args[:op.arity]]
    params = args[op.arity:]
    data = op.forward(*(x.data for x in inputs), *params)
    if not _grad_enabled and not _mode.enabled:
        return _untracked(data)
    return _node(data, inputs[0], inputs[1] if op.arity == 2 else None, op.bind(*params) if params else op)


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


# Every op of the table with a spelling (except those written by hand above): its methods, made
# from its row in this module's namespace (engine/methods.py).
_methods.install(Value, OPS.values(), globals())
