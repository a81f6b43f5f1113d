"""Who is timed: vetgrad, micrograd 0.1.0 and PyTorch eager, by name.

A compiled one (``vetgrad-compiled``, ``float``, ``vetgrad-batched``) replays
a graph compiled once, outside the clock (:mod:`benchmarks.compiled`); ``vetgrad-batched`` replays
it over a batch of rows with numpy and is timed per row (per sample), ``vetgrad-batched-fast``
with numpy's transcendental kernels (``exact=False``). A scalar contender builds graphs one number
at a time (``leaf(x)``, then Python operators and methods); a batched one (``torch-vec-*``) only
takes part in the MLP suite, as do vetgrad's training steps (``vetgrad-step``: ``nn.compile_step``
replayed; ``vetgrad-numpy``: ``nn.batched_step``). A contender ending in ``-1`` trains on one
sample instead of the batch. ``missing()`` says why
a contender cannot run here (not installed, no CUDA device), so that the report shows it as absent
instead of crashing. Optional packages are imported lazily.

A user's engine (``--engine mypkg.engine:Value`` or ``--engine path/to/engine.py:Value``) is a
contender of family ``user`` made by :func:`user`, named from its spec, and loaded in its worker
the way the conformance harness loads an engine (``conformance.subject.spec`` and
``conformance.subject.server.load``); it takes part in the DAG and chain suites.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import math
import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from vetgrad._extras import install_hint

SUITES: tuple[str, ...] = ("dag", "chain", "mlp", "harness", "memory")


@dataclass(frozen=True)
class Contender:
    """One engine configuration. ``family`` is vetgrad, micrograd, torch (0-d tensors, scalar
    style), torch-vec (``nn.Linear`` on a batch), vetgrad-step (``nn.compile_step``) or
    vetgrad-numpy (``nn.batched_step``); the last three train the MLP only."""

    name: str
    label: str
    family: str
    suites: tuple[str, ...]
    device: str = "cpu"
    dtype: str = "float64"
    deep: bool = False  # micrograd with sys.setrecursionlimit raised to fit the graph
    batch: int | None = None  # the MLP suite's samples per step (None: the suite's batch, 32)
    max_nodes: int | None = None  # not run on larger graphs (skipped() says why)
    rows: int = 1  # samples a round computes (a batch): the report's times are per sample
    engine: str | None = None  # family user: the spec its worker loads (module:attr, file:attr)

    @property
    def scalar(self) -> bool:
        return self.family not in ("torch-vec", "vetgrad-numpy")

    @property
    def compiled(self) -> bool:
        """Replays a graph compiled once (no graph is built in a round): benchmarks.compiled."""
        return self.family in ("vetgrad-compiled", "float", *BATCHED)

    def skipped(self, nodes: int) -> str | None:
        """Why this contender does not run on a graph of ``nodes`` nodes, or None."""
        if self.max_nodes is not None and nodes > self.max_nodes:
            return (f"absent (above {self.max_nodes:,} nodes: a batch holds a column of every "
                    "node, 16 KB per node at 1,024 rows)")
        return None

    def missing(self) -> str | None:
        """Why this contender cannot run here, or None when it can."""
        if self.family in BATCHED and importlib.util.find_spec("numpy") is None:
            return f"absent (numpy not installed: {install_hint(packages=['numpy'])})"
        if self.family == "micrograd":
            if importlib.util.find_spec("micrograd") is None:
                return f"absent (micrograd not installed: {install_hint(packages=['micrograd==0.1.0'])})"
            return None
        if self.family == "vetgrad-numpy" and importlib.util.find_spec("numpy") is None:
            return f"absent (numpy not installed: {install_hint(packages=['numpy'])})"
        if self.family.startswith("torch"):
            if importlib.util.find_spec("torch") is None:
                return "absent (torch not installed)"
            if self.device == "cuda" and not torch_module().cuda.is_available():
                return "absent (no CUDA device)"
        return None

    def leaf(self) -> Callable[[float], Any]:
        """The constructor of a leaf that records gradients (``Value(x)``, ``torch.tensor``)."""
        if self.family == "user":
            assert self.engine is not None
            return user_class(self.engine)
        if self.family == "vetgrad":
            from vetgrad.engine import Value

            return Value
        if self.family == "micrograd":
            return micrograd_value()
        if self.family == "torch":
            torch = torch_module()
            return functools.partial(torch.tensor, dtype=self.torch_dtype(), device=self.device,
                                     requires_grad=True)
        raise TypeError(f"{self.name} is batched: it builds no scalar graphs")

    def torch_dtype(self) -> Any:
        return getattr(torch_module(), self.dtype)

    def sync(self) -> Callable[[], None]:
        """What to call before stopping a clock: ``torch.cuda.synchronize`` on CUDA."""
        if self.device == "cuda":
            return torch_module().cuda.synchronize
        return _nothing

    def number(self, x: Any) -> float:
        """A value or gradient as a float (nan for a missing gradient)."""
        if x is None:
            return math.nan
        if self.family.startswith("torch"):
            return float(x.item())
        return float(x.data if hasattr(x, "data") else x)

    def recursion_room(self, depth: int) -> contextlib.AbstractContextManager[None]:
        """For ``micrograd-deep``: a recursion limit that lets its recursive backward reach
        ``depth``; for everyone else, nothing."""
        return _recursion_limit(depth + 1000) if self.deep else contextlib.nullcontext()


def _nothing() -> None:
    return None


@contextlib.contextmanager
def _recursion_limit(limit: int) -> Iterator[None]:
    # Python-to-Python calls do not use the C stack on CPython >= 3.11, so a deep limit is safe.
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


_GRAPHS = ("dag", "chain")
BATCHED = ("vetgrad-batched", "vetgrad-batched-fast")  # Compiled.batch: exact, exact=False
CONTENDERS: tuple[Contender, ...] = (
    Contender("vetgrad", "vetgrad engine.Value", "vetgrad", SUITES),
    Contender("vetgrad-compiled", "vetgrad engine.compile, replayed (traced once, untimed)",
              "vetgrad-compiled", ("dag",)),
    Contender("float", "straight-line float code (baseline: forward + reverse sweep)", "float",
              ("dag",)),
    Contender("vetgrad-batched", "vetgrad Compiled.batch over 1,024 rows (numpy), per row",
              "vetgrad-batched", ("dag",), max_nodes=10_000, rows=1024),
    Contender("vetgrad-batched-fast", "the same with exact=False (numpy's tanh, within 4 ulps)",
              "vetgrad-batched-fast", ("dag",), max_nodes=10_000, rows=1024),
    Contender("micrograd", "micrograd 0.1.0 (+ lecture tanh)", "micrograd",
              ("dag", "chain", "mlp", "harness")),
    Contender("micrograd-deep", "micrograd 0.1.0, recursion limit raised to fit", "micrograd",
              ("dag", "chain", "memory"), deep=True),
    Contender("torch-f64", "torch eager, 0-d float64, CPU", "torch", (*_GRAPHS, "mlp", "memory")),
    Contender("torch-f32", "torch eager, 0-d float32, CPU", "torch", (*_GRAPHS, "mlp"),
              dtype="float32"),
    Contender("torch-cuda-f64", "torch eager, 0-d float64, CUDA", "torch", (*_GRAPHS, "mlp"),
              device="cuda"),
    Contender("torch-cuda-f32", "torch eager, 0-d float32, CUDA", "torch", (*_GRAPHS, "mlp"),
              device="cuda", dtype="float32"),
    Contender("vetgrad-step", "vetgrad nn.compile_step, replayed (traced once, untimed)",
              "vetgrad-step", ("mlp",)),
    Contender("vetgrad-numpy", "vetgrad nn.batched_step: numpy matrices on the batch",
              "vetgrad-numpy", ("mlp",)),
    Contender("vetgrad-step-1", "vetgrad nn.compile_step on one sample", "vetgrad-step",
              ("mlp",), batch=1),
    Contender("vetgrad-numpy-1", "vetgrad nn.batched_step on one sample", "vetgrad-numpy",
              ("mlp",), batch=1),
    Contender("torch-vec-f64", "torch nn.Linear on the batch, float64, CPU", "torch-vec",
              ("mlp",)),
    Contender("torch-vec-f64-1", "torch nn.Linear on one sample, float64, CPU", "torch-vec",
              ("mlp",), batch=1),
    Contender("torch-vec-f32", "torch nn.Linear on the batch, float32, CPU", "torch-vec",
              ("mlp",), dtype="float32"),
    Contender("torch-vec-cuda-f64", "torch nn.Linear on the batch, float64, CUDA", "torch-vec",
              ("mlp",), device="cuda"),
    Contender("torch-vec-cuda-f32", "torch nn.Linear on the batch, float32, CUDA", "torch-vec",
              ("mlp",), device="cuda", dtype="float32"),
)
BY_NAME: dict[str, Contender] = {c.name: c for c in CONTENDERS}


USER_SUITES: tuple[str, ...] = _GRAPHS


def user(engine: str, taken: Sequence[str] = ()) -> Contender:
    """The contender for a user's engine given as ``module:attr`` or ``path/to/file.py:attr``,
    named from the spec (``mypkg.engine``, or the file's folder and stem: ``alice/engine``; with
    ``:attr`` when attr is not ``Value``, and ``#2``... when the name is ``taken`` or a built-in
    contender's). A file is checked to exist and kept as an absolute path (EngineLoadError
    otherwise); whether the engine loads is its worker's business (:func:`user_class`)."""
    from vetgrad.conformance.subject.adapters import EngineLoadError
    from vetgrad.conformance.subject.spec import _is_file_spec

    where, _, attr = engine.rpartition(":")
    if not where or not attr:
        raise EngineLoadError(f"--engine {engine}: give module:Value or path/to/engine.py:Value")
    if _is_file_spec(engine):
        file = os.path.abspath(where)
        if not os.path.isfile(file):
            raise EngineLoadError(f"--engine {engine}: no such file {where}")
        folder = os.path.basename(os.path.dirname(file))
        stem = os.path.splitext(os.path.basename(file))[0]
        name, engine = f"{folder}/{stem}" if folder else stem, f"{file}:{attr}"
    else:
        name = where
    if attr != "Value":
        name += f":{attr}"
    base, k = name, 1
    while name in BY_NAME or name in taken:
        k += 1
        name = f"{base}#{k}"
    return Contender(name, f"your engine, {engine}", "user", USER_SUITES, engine=engine)


def user_class(engine: str) -> type:
    """The Value class ``engine`` names, loaded in this process as the conformance harness's
    engine process loads one (its search path, a file's source as a module of its own name);
    EngineLoadError naming the problem when it cannot be, or is an adapter, not a class."""
    from dataclasses import asdict

    from vetgrad.conformance.subject.adapters import EngineLoadError
    from vetgrad.conformance.subject.server import load
    from vetgrad.conformance.subject.spec import engine_spec

    spec = engine_spec(engine)
    assert spec is not None  # a string always has a spec
    try:
        adapter = load(asdict(spec))
    except EngineLoadError as exc:  # a file's module name is ours: say the file instead
        module = spec.target.partition(":")[0]
        file = engine.rpartition(":")[0]
        raise EngineLoadError(str(exc).replace(repr(module), file) if spec.sources else str(exc)) \
            from None
    cls = getattr(adapter, "cls", None)
    if not isinstance(cls, type):
        raise EngineLoadError(f"--engine {engine}: the benchmarks time a Value class's own "
                              "operators; this names an adapter")
    return cls


def get(name: str) -> Contender:
    """The contender called ``name``; KeyError listing the valid names otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown contender {name!r}; valid: {', '.join(BY_NAME)}") from None


def for_suite(suite: str, names: list[str] | None = None) -> list[Contender]:
    """The contenders (of ``names``, or all) that take part in ``suite``, in table order."""
    chosen = CONTENDERS if names is None else tuple(get(n) for n in names)
    return [c for c in chosen if suite in c.suites]


@functools.cache
def torch_module() -> Any:
    import torch

    return torch


def micrograd_version() -> str | None:
    try:
        return importlib.metadata.version("micrograd")
    except importlib.metadata.PackageNotFoundError:
        return None


def _lecture_tanh(self: Any) -> Any:
    # The lecture's tanh, with math.tanh in place of its (e^2x - 1)/(e^2x + 1), which raises
    # OverflowError for x > 354 (random DAGs reach such values).
    t = math.tanh(self.data)
    out = type(self)(t, (self,), "tanh")

    def _backward() -> None:
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


@functools.cache
def micrograd_value() -> type:
    """micrograd's ``Value`` plus the lecture's ``tanh`` (closure with ``_backward``).

    micrograd's operators build their results through the module-global name ``Value``, so a
    plain subclass would lose ``tanh`` after the first ``+``. The subclass therefore gets
    micrograd's own method code re-bound to globals in which ``Value`` is the subclass: the same
    bytecode, so the same speed, and micrograd itself is left untouched.
    """
    from micrograd import engine

    namespace = dict(vars(engine))
    cls = type("Value", (engine.Value,), {"__module__": __name__, "tanh": _lecture_tanh})
    namespace["Value"] = cls
    for name, attr in vars(engine.Value).items():
        if isinstance(attr, types.FunctionType):
            setattr(cls, name, types.FunctionType(attr.__code__, namespace, attr.__name__,
                                                  attr.__defaults__, attr.__closure__))
    return cls
