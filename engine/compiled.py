"""``engine.compile``: trace a function of Values once, then replay it as straight-line float code.

>>> from engine import compile
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
from typing import Any, Callable, Sequence

from engine.autograd import enable_grad
from engine.backprop import topological_order
from engine.codegen import generate
from engine.value import Value

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
        self._variants: dict[str, Callable[..., Any]] = {}  # replay_all's and replay_values'
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

    def _variant(self, mode: str) -> Callable[..., Any]:
        made = self._variants.get(mode)
        if made is None:
            if self.order is None:
                raise RuntimeError(f"{self.__name__}: replay_all() and replay_values() need the "
                                   "trace, which compile() drops; use "
                                   "Compiled.from_graph(inputs, root, keep=True)")
            made = self._variants[mode] = self._make(self.order, self._inputs, mode)
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
        if keep:  # otherwise the trace is dropped: a compiled function holds only its code
            self.order = order
            self._inputs = inputs

    def _make(self, order: list[Value], inputs: list[Value], mode: str) -> Callable[..., Any]:
        fname = f"replay_{mode}" if mode != "root" else f"replay_{_identifier(self.__name__)}"
        source, env = generate(order, inputs, fname, mode)
        filename = f"<vetgrad.compile {self.__name__} #{next(_COUNTER)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(builtins.compile(source, filename, "exec"), env)
        if mode == "root":
            self.source = source
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
