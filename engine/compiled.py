"""``engine.compile``: trace a function of Values once, then replay it as straight-line float code.

>>> from vetgrad.engine import compile
>>> @compile
... def f(x, y):
...     return (x * y + 1.0).tanh()
>>> f(0.5, 2.0)
(0.9640275800758169, (0.14130164970632886, 0.035325412426582214))

The first call runs ``f`` on fresh leaf Values and records the graph it builds (a trace); every
call then runs Python source generated from that trace (``f.source``), with no Value made: the
same float operations, in the same order, as ``f`` on Values plus ``backward()``, so the same
results bit for bit.

Tracing caveat (as ``torch.jit.trace``): only the ops on Values are recorded. Python control flow
on numbers (``if x.data > 0:``, a loop whose length depends on a value), ``.data`` read as a
number, ``detach()``, ``no_grad()`` blocks and Values made inside ``f`` become constants of the
trace: later calls replay the path the first call took, whatever their numbers. Branches inside
vetgrad's ops (relu, abs, maximum/minimum ties, clamp, kinks) are not baked in: they are evaluated
on each call's numbers. Values ``f`` reads from outside (e.g. a model's weights) are constants too:
pass them as arguments to get their gradients.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import numbers
import weakref
from typing import Any, Callable, Sequence

from vetgrad.engine import batched
from vetgrad.engine.autograd import enable_grad
from vetgrad.engine.backprop import topological_order
from vetgrad.engine.codegen import Dialect, generate
from vetgrad.engine.value import Value

_COUNTER = itertools.count(1)
Grads = tuple[float, ...]


class Compiled:
    """A function of Values compiled by :func:`compile`: ``g(*numbers) -> (value, grads)``."""

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f
        self.__name__ = getattr(f, "__name__", "f")
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f
        self.arity: int | None = None  # set by the first call
        self.nodes = 0  # nodes of the trace, leaves included
        self.source = ""  # the generated code (empty until the first call)
        self.order: list[Value] | None = None  # the trace itself, kept only by from_graph(keep=)
        self._replay: Callable[..., tuple[float, Grads]] | None = None
        self._variants: dict[str, Callable[..., Any]] = {}  # replay_all's, batch's, ...
        self.batch_source = ""  # the batched replay's code (numpy; empty until the first call)
        self._batch_env: dict[str, Any] = {}
        self._inputs: list[Value] = []
        self._all_floats = {float}.issuperset

    @classmethod
    def from_graph(cls, inputs: Sequence[Value], root: Value, keep: bool = False,
                   name: str = "graph") -> Compiled:
        """Compile a graph already built on Values: ``root`` as a function of the leaves
        ``inputs``. With ``keep``, the traced nodes stay in ``.order`` (``replay_all`` returns
        values and gradients in that order)."""
        c = cls(lambda *xs: root)
        c.__name__ = name
        c._build(list(inputs), root, keep)
        return c

    def __call__(self, *args: float) -> tuple[float, Grads]:
        """f's value at ``args`` and its gradient with respect to each of them."""
        replay = self._replay
        if replay is None:
            self._trace(args)
            replay = self._replay
            assert replay is not None
        if len(args) != self.arity:
            raise TypeError(f"{self.__name__} was compiled for {self.arity} argument"
                            f"{'s' if self.arity != 1 else ''}, got {len(args)}")
        if not self._all_floats(map(type, args)):
            args = _numbers(args, self.__name__)
        return replay(*args)

    def replay_all(self, *args: float) -> tuple[list[float], list[float]]:
        """The value and the gradient of every node of the trace, in backward()'s topological
        order (the root last), nothing pruned: what ``f``'s graph holds after ``backward()``."""
        return self._variant("all")(*self._checked(args))  # type: ignore[no-any-return]

    def replay_values(self, *args: float) -> list[float]:
        """The value of every node of the trace (``replay_all``'s first list), forward only: no
        op without a derivative can raise."""
        return self._variant("values")(*self._checked(args))  # type: ignore[no-any-return]

    def batch(self, *columns: Any, exact: bool = True) -> tuple[Any, tuple[Any, ...]]:
        """f over many rows at once (numpy): each column a 1-d array-like of N numbers, or a
        number that is the same in every row. Returns ``(values, grads)``: the N values of f and
        one array of N gradients per argument, float64, row ``i`` bit for bit what
        ``g(*row i)`` gives. Not traced yet: traced at the first row. See :mod:`engine.batched`
        (transcendental ops cost a Python call per element; numpy's warnings are silenced).
        ``exact=False``: those ops' forwards are numpy's kernels, each within
        ``engine.batch_kernels.FAST_ULPS`` ulps of C's (derivatives keep the rows' formulas)."""
        np = batched.numpy()
        cols, n = batched.columns(np, columns, self.arity, self.__name__)
        if self._replay is None:
            if n == 0:
                raise ValueError(f"{self.__name__}.batch() needs a row to trace at, got 0 rows")
            self._trace([float(np.broadcast_to(c, (n,))[0]) for c in cols])
        key = "batch" if exact else "batch_fast"
        fn = self._variants.get(key)
        if fn is None:
            names = batched.namespace()
            source = self.batch_source if exact else batched.fast_source(
                self.batch_source, [k[len("fast_"):] for k in names if k.startswith("fast_")])
            fn = self._variants[key] = self._exec(source, dict(self._batch_env, **names), "batch",
                                                  f"batch_{_identifier(self.__name__)}")
        with np.errstate(all="ignore"):
            value, grads = fn(*cols)
        return batched.full(np, value, n), tuple(batched.full(np, g, n) for g in grads)

    def batch_all(self, *columns: Any) -> tuple[list[Any], list[Any]]:
        """``replay_all`` over many rows (see :meth:`batch`): the value and the gradient column
        of every node of the trace, in backward()'s topological order."""
        values, grads = self._batch_variant("all", columns)
        return values, grads

    def batch_values(self, *columns: Any) -> list[Any]:
        """``replay_values`` over many rows: every node's value column, forward only."""
        return self._batch_variant("values", columns)  # type: ignore[no-any-return]

    def _batch_variant(self, mode: str, columns: Sequence[Any]) -> Any:
        np = batched.numpy()
        cols, n = batched.columns(np, columns, self.arity, self.__name__)
        with np.errstate(all="ignore"):
            got = self._variant(f"batch_{mode}")(*cols)
        if mode == "values":
            return [batched.full(np, v, n) for v in got]
        return [batched.full(np, v, n) for v in got[0]], [batched.full(np, g, n) for g in got[1]]

    def _variant(self, mode: str) -> Callable[..., Any]:
        made = self._variants.get(mode)
        if made is None:
            if self.order is None:
                raise RuntimeError(f"{self.__name__}: replay_all(), replay_values(), batch_all() "
                                   "and batch_values() need the trace, which compile() drops; "
                                   "use Compiled.from_graph(inputs, root, keep=True)")
            if mode.startswith("batch_"):
                made = self._make(self.order, self._inputs, mode[len("batch_"):], batched.BATCH)
            else:
                made = self._make(self.order, self._inputs, mode)
            self._variants[mode] = made
        return made

    def _checked(self, args: Sequence[Any]) -> list[float]:
        if len(args) != self.arity:
            raise TypeError(f"{self.__name__} was compiled for {self.arity} arguments, got {len(args)}")
        return _numbers(args, self.__name__)

    def _trace(self, args: Sequence[Any]) -> None:
        numbers_ = _numbers(args, self.__name__)
        leaves = [Value(x) for x in numbers_]
        with enable_grad():
            root = self.f(*leaves)
        if not isinstance(root, Value):
            raise TypeError(f"a compiled function must return one Value, {self.__name__} returned "
                            f"a {type(root).__name__}: {root!r}")
        self._build(leaves, root, keep=False)

    def _build(self, inputs: list[Value], root: Value, keep: bool) -> None:
        order = topological_order([root])
        ids = {id(v) for v in order}
        if not any(id(x) in ids for x in inputs):
            raise ValueError(f"{self.__name__} returned a Value that does not depend on its "
                             "arguments (built from constants, .data or detach()): nothing to "
                             "differentiate; compute it with plain numbers instead")
        self.arity = len(inputs)
        self.nodes = len(order)
        self._replay = self._make(order, inputs, "root")
        # the batched replay's code, as text (run at the first batch(), which imports numpy)
        self.batch_source, self._batch_env = generate(
            order, inputs, f"batch_{_identifier(self.__name__)}", "root", batched.BATCH)
        if keep:  # otherwise the trace is dropped: a compiled function holds only its code
            self.order = order
            self._inputs = inputs

    def _make(self, order: list[Value], inputs: list[Value], mode: str,
              dialect: Dialect | None = None) -> Callable[..., Any]:
        kind = "replay" if dialect is None else "batch"
        fname = f"{kind}_{mode}" if mode != "root" else f"{kind}_{_identifier(self.__name__)}"
        source, env = generate(order, inputs, fname, mode, dialect)
        if dialect is not None:
            env.update(batched.namespace())
        if mode == "root" and dialect is None:
            self.source = source
        return self._exec(source, env, kind, fname)

    def _exec(self, source: str, env: dict[str, Any], kind: str, fname: str) -> Callable[..., Any]:
        """Run generated ``source``; its lines stay in linecache (tracebacks show them) while this
        Compiled lives, and are dropped with it."""
        filename = f"<vetgrad.compile {self.__name__} #{next(_COUNTER)}{' batch' if kind == 'batch' else ''}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        weakref.finalize(self, linecache.cache.pop, filename, None).atexit = False
        exec(builtins.compile(source, filename, "exec"), env)
        return env[fname]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        state = f"{self.nodes} nodes" if self._replay else "not traced yet"
        return f"<compiled {self.__name__}: {state}>"


def _identifier(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"f_{cleaned}"


def _numbers(args: Sequence[Any], name: str) -> list[float]:
    out = []
    for i, x in enumerate(args):
        if isinstance(x, numbers.Real) and not isinstance(x, Value):
            out.append(float(x))
            continue
        hint = (" (a compiled function takes plain numbers: pass .data)"
                if isinstance(x, Value) else "")
        raise TypeError(f"{name}() argument {i} must be a real number (int or float), got "
                        f"{type(x).__name__}: {x!r}{hint}")
    return out


def compile(f: Callable[..., Value]) -> Compiled:
    """Compile ``f`` (a function of Values returning one Value; also a decorator): ``g = compile(f)``,
    then ``g(*numbers)`` is ``(value, grads)``, bit for bit what ``f`` on Values and ``backward()``
    give. Traced at the first call; see the module's docstring for what tracing bakes in."""
    if not callable(f):
        raise TypeError(f"compile() needs a function of Values, got {type(f).__name__}")
    return Compiled(f)
