"""Running the engine under test on a graph: build it, call backward twice, and run each op alone
on the inputs the engine gave it; its derivatives of higher order. No judging here: what the engine
did, as plain data. This module runs in the engine's own process (:mod:`conformance.subject.server`), so it
imports neither torch nor the judge. :class:`LocalEngine` runs an engine in the harness's own
process instead (an adapter object that cannot be sent to another process), with a SIGALRM
deadline."""

from __future__ import annotations

import functools
import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from vetgrad.conformance.dags.graph import ALIASED, Const, Graph, Node
from vetgrad.conformance.errors import EngineFailureError as EngineFailureError  # (re-exported)
from vetgrad.conformance.errors import EngineTimeoutError
from vetgrad.conformance.subject.adapters import Adapter, NodeInfo, node_spelling
from vetgrad.conformance.subject.address import local_ref
from vetgrad.conformance.subject.sanity import mark as mark_in_backward
from vetgrad.engine.ops import OPS

GRAPH_TIMEOUT = 60.0  # seconds the engine may spend on one graph (forward, backward, its ops)
MAX_HANGS = 3  # graphs that may run out of time before a campaign stops (0: no cap)

# What the engine is doing, for a verdict on a process that died or hung (see conformance.subject.server).
FORWARD, BACKWARD, ALONE, HIGHER, PROBE = range(5)
PHASES = ("forward", "backward()", "run alone", "higher-order", "probe")
Mark = Callable[[int, int], None]  # mark(node, phase)
LOST = "lost: "  # a crash text that is the whole verdict (the engine's process was lost)
CRASH = "crash: "  # the error of an op alone that raised in its forward (its value: nan)
# Bytes of data the engine's process may hold (set there by conformance.subject.server; 0: no cap).
MEMORY_LIMIT = 0


def error_text(exc: BaseException) -> str:
    """How an exception of the engine reads in a finding; a MemoryError under the harness's cap
    names the cap (an engine that leaks, or a runaway op, stops there instead of at the OOM
    killer); a SystemError that says the engine's C code broke the interpreter's rules says so,
    with the exception it left set. Total: an exception whose ``str()`` raises reads as such."""
    said = said_text(exc)
    if isinstance(exc, MemoryError) and MEMORY_LIMIT:
        return (f"{type(exc).__name__}{f': {said}' if said else ''} (the engine's process may "
                f"hold {MEMORY_LIMIT / 2**30:.3g} GiB of data: --memory-limit)")
    broken = broken_rules(exc)
    if broken is not None:
        return f"{broken} ({RULES})"
    return f"{type(exc).__name__}: {said}"


def said_text(exc: BaseException) -> str:
    """``str(exc)``, or what stands for it when the engine's exception cannot say itself."""
    try:
        return str(exc)
    except Exception as inner:
        return f"<str() of this {type(exc).__name__} raised {type(inner).__name__}>"


RULES = "the engine broke the interpreter's rules"
# What the interpreter says when C code breaks its rules (a result and an exception at once, or
# neither): the engine's C extension, never its Python code nor the harness.
_RULE_TEXTS = ("returned a result with an exception set", "returned NULL without setting an exception",
               "error return without exception set")
_CHECKED = functools.partial(int)  # a call the interpreter always checks (never specialised away)


def broken_rules(exc: BaseException) -> str | None:
    """``SystemError: <built-in function pow> returned a result with an exception set (ValueError:
    math domain error was left set)`` for a SystemError that says C code broke the interpreter's
    rules; None for any other exception."""
    if not isinstance(exc, SystemError):
        return None
    text = said_text(exc)
    if not any(t in text for t in _RULE_TEXTS):
        return None
    cause = exc.__cause__
    left = f" ({type(cause).__name__}: {said_text(cause)} was left set)" if cause is not None else ""
    return f"SystemError: {text}{left}"


def surface() -> None:
    """Raise here (as SystemError, with it as the cause) an exception the engine's C code left set
    while returning a result: the interpreter checks only some calls, so such an exception
    otherwise surfaces later, in whatever the harness calls next, blaming the wrong step."""
    try:
        _CHECKED()
    except SystemError as exc:  # (it names the check's own call: say whose the exception is)
        raise SystemError("the engine's C code returned a result with an exception set (seen "
                          "after its call returned)") from exc.__cause__


def where(graph: Graph, node: int, phase: int) -> str:
    """Where a graph's run was, for a verdict: ``in tanh (node 1, forward)``, ``in backward()``.
    Total: a node or phase out of range (a stale or torn mark) is clamped or named as unknown."""
    phase_name = PHASES[phase] if 0 <= phase < len(PHASES) else "an unknown step"
    if phase_name == "backward()":
        return "in backward()"
    if not graph.nodes:
        return f"in {phase_name}"
    node = min(max(node, 0), graph.root)
    return f"in {graph.nodes[node].op} (node {node}, {phase_name})"


@dataclass
class EngineRun:
    values: list[float]
    handles: list[Any]
    crash: tuple[int, str] | None = None      # (node, error) in forward
    backward_error: str | None = None
    grads: list[float] | None = None
    repeat_error: str | None = None
    repeat_node: int = -1
    repeat_grads: list[float] | None = None   # every node's grad after a second backward()
    crash_op: str | None = None  # the op to blame for ``crash`` when not the node's ('graph')


# The engine's value, local derivatives (nan for a constant operand; None when backward raised)
# and error of one op run alone.
OpResult = tuple[float, "tuple[float, ...] | None", "str | None"]


class OpAlone(NamedTuple):
    """Node ``index`` of a graph run alone in the engine, in operand ``form``, on ``inputs``."""

    index: int
    node: Node
    form: str
    inputs: tuple[float, ...]
    result: OpResult


def build(adapter: Adapter, graph: Graph, mark: Mark | None = None) -> EngineRun:
    handles: list[Any] = []
    values: list[float] = []
    for i, node in enumerate(graph.nodes):
        if mark is not None:
            mark(i, FORWARD)
        try:
            if node.op == "leaf":
                h = adapter.leaf(node.value)
            else:
                args = [a.value if isinstance(a, Const) else handles[a] for a in node.args]
                h = adapter.apply(OPS[node.op], args, node.params)
            v = adapter.value(h)
            surface()
        except Exception as exc:
            return EngineRun(values, handles, (i, crash_text(exc, graph, i, FORWARD)))
        handles.append(h)
        values.append(v)
    return EngineRun(values, handles)


def crash_text(exc: BaseException, graph: Graph, node: int, phase: int) -> str:
    """The crash text of an exception at ``node``: :func:`error_text`, or for a broken rule the
    whole verdict (engine_run.LOST), naming the op."""
    broken = broken_rules(exc)
    if broken is None:
        return error_text(exc)
    return f"{LOST}{RULES} {where(graph, node, phase)}: {broken}"


def backward_twice(adapter: Adapter, run: EngineRun) -> None:
    try:
        adapter.backward(run.handles[-1])
        run.grads = [adapter.grad(h) for h in run.handles]
        surface()
    except Exception as exc:
        run.backward_error = error_text(exc)
        return
    # torch with retain_graph=True adds the same gradients again on a second backward, and so
    # must a micrograd-style engine (micrograd itself counts intermediate gradients twice).
    try:
        adapter.backward(run.handles[-1])
        again = [adapter.grad(h) for h in run.handles]
        surface()
    except Exception as exc:
        run.repeat_error = f"a second backward raised {error_text(exc)}"
        return
    run.repeat_grads = again
    for i, (g, g2) in enumerate(zip(run.grads, again)):
        if not identical(g + g, g2):
            run.repeat_error = (f"a second backward left d(root)/d(node {i}) at {g2!r}; torch "
                                f"(retain_graph=True) adds the same again: {g + g!r}")
            run.repeat_node = i
            return


def identical(a: float, b: float) -> bool:
    """Bit-for-bit the same number (nan is identical to nan; 0.0 is not -0.0). Here, where the
    engine's process reaches it; the judge uses it too (conformance/judging/number.py)."""
    if a == b:
        return a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b)
    return a != a and b != b


def op_alone(adapter: Adapter, node: Node, inputs: tuple[float, ...],
             aliased: bool = False) -> OpResult:
    """The op alone in the engine, on these inputs: its value and local derivatives. ``aliased``
    (``x op x``): one leaf as both operands, and the leaf's total derivative."""
    if aliased:
        args = [adapter.leaf(inputs[0])] * 2
        leaves = args[:1]
    else:
        args = [x if isinstance(a, Const) else adapter.leaf(x) for a, x in zip(node.args, inputs)]
        leaves = args
    out = adapter.apply(OPS[node.op], args, node.params)
    value = adapter.value(out)
    surface()
    try:
        adapter.backward(out)
        surface()
    except Exception as exc:
        # (backward()'s own code, as the class names the method?)
        return value, None, mark_in_backward(error_text(exc), exc, node_spelling(adapter).backward)
    grad, form = adapter.grad, node.form
    if aliased or form == "n":
        return value, (grad(leaves[0]),), None
    if form == "nn":
        return value, (grad(leaves[0]), grad(leaves[1])), None
    return value, tuple(math.nan if isinstance(a, Const) else grad(h)
                        for a, h in zip(node.args, leaves)), None


def alone_cases(graph: Graph, values: Sequence[float],
                upto: int | None = None) -> list[tuple[int, Node, str, tuple[float, ...]]]:
    """The ops a graph runs alone, in order, on the engine's ``values``: (node index, node, form,
    inputs) for every op node (before node ``upto``, where the forward pass crashed: whether an
    op upstream gave it a wrong value), and an ``x op x`` node again as one leaf in both operands
    (form ``ALIASED``: an engine may take a shortcut there). The engine's process answers with
    results only, in this order."""
    out = []
    for i, node in enumerate(graph.nodes[:upto]):
        if node.op == "leaf":
            continue
        args, form = node.args, node.form
        if form == "nn":
            a, b = args
            out.append((i, node, form, (values[a], values[b])))  # type: ignore[index]
            if a == b:
                out.append((i, node, ALIASED, (values[a],)))  # type: ignore[index]
        elif form == "n":
            out.append((i, node, form, (values[args[0]],)))  # type: ignore[index]
        else:
            out.append((i, node, form, tuple(a.value if isinstance(a, Const) else values[a]
                                               for a in args)))
    return out


def run_engine(adapter: Adapter, graph: Graph, alone: list[OpAlone],
               mark: Mark | None = None) -> EngineRun:
    """The graph in the engine (forward, backward twice), and each op alone on its inputs (see
    :func:`alone_cases`), appended to ``alone`` as each returns: what ran before a timeout is
    kept (torch's batched reference still runs it). ``mark(node, phase)`` is told what runs next."""
    run = build(adapter, graph, mark)
    if run.crash is None:
        if mark is not None:
            mark(graph.root, BACKWARD)
        backward_twice(adapter, run)
    if run.crash is None or run.crash_op is None:  # (not after a lost engine: 'graph')
        for i, node, form, xs in alone_cases(graph, run.values, None if run.crash is None else run.crash[0]):
            if mark is not None:
                mark(i, ALONE)
            try:
                mine = op_alone(adapter, node, xs, aliased=form == ALIASED)
                surface()  # (its grads read)
            except Exception as exc:
                mine = (math.nan, None, CRASH + error_text(exc))
            alone.append(OpAlone(i, node, form, xs, mine))
    return run


def derivatives(adapter: Adapter, run: EngineRun, leaf: int, max_order: int,
                mark: Mark | None = None) -> tuple[list[Any], list[Any]]:
    """d^k(root)/d(leaf)^k for k = 1..max_order by the engine's ``grad_of(create_graph=True)``,
    stopping at the first None or error; and the derivatives' handles (for derivative_graph)."""
    g, x = run.handles[-1], run.handles[leaf]
    out: list[Any] = []
    handles: list[Any] = []
    for order in range(1, max_order + 1):
        if mark is not None:
            mark(order, HIGHER)
        try:
            (g,) = adapter.grad_of(g, [x], create_graph=True)
            if g is None:
                out.append(None)
                break
            out.append(adapter.value(g))
            surface()
        except Exception as exc:
            out.append(error_text(exc))
            break
        handles.append(g)
    return out, handles


def derivative_at(adapter: Adapter, graph: Graph, leaf: int, x: float, order: int) -> float:
    """The engine's ``order``-th derivative of the root by the leaf, with the leaf moved to ``x``
    (nan when the engine raises: a finite difference of it then decides nothing)."""
    nodes = list(graph.nodes)
    nodes[leaf] = Node("leaf", value=x)
    try:
        run = build(adapter, Graph(tuple(nodes)))
        if run.crash is not None:
            return math.nan
        g, at = run.handles[-1], run.handles[leaf]
        for _ in range(order):
            (g,) = adapter.grad_of(g, [at], create_graph=True)
            if g is None:
                return 0.0
        value = adapter.value(g)
        surface()
        return value
    except Exception:
        return math.nan


def hang_cap_reached(session: Any) -> bool:
    """Whether ``session`` (LocalEngine or ChildEngine) has had ``max_hangs`` graphs time out
    (never, when ``max_hangs`` is 0): a campaign then stops instead of paying a timeout per
    graph of an engine that hangs on most of them."""
    return 0 < session.max_hangs <= session.hangs


class GraphRun(NamedTuple):
    """What the engine did on one graph: the run, its ops alone, whether it ran out of time (what
    ran alone before is kept, unjudged), and an excerpt of what it printed meanwhile."""

    run: EngineRun
    alone: list[OpAlone]
    timed_out: bool = False
    output: str = ""


class LocalEngine:
    """The engine in this very process (no isolation): for adapter objects that cannot be sent to
    a child process, and for unit tests. The deadline is SIGALRM's (main thread, POSIX only)."""

    def __init__(self, adapter: Adapter, timeout: float | None = GRAPH_TIMEOUT) -> None:
        self.adapter, self.timeout = adapter, timeout
        self.name, self.supports_higher_order = adapter.name, adapter.supports_higher_order
        self.ref = local_ref(adapter)  # what a reproducer imports
        self._runs: list[EngineRun] = []
        self._derivs: dict[int, list[Any]] = {}
        self.hangs, self.max_hangs = 0, 0  # graphs that ran out of time; 0: no cap

    def forms(self) -> dict[str, tuple[str, ...]]:
        return self.adapter.forms()

    def probe_log(self) -> list[tuple[str, ...]]:
        return [tuple(d) for d in getattr(self.adapter, "probe_log", [])]

    def sanity(self) -> list[tuple[str, str]]:
        """As ChildEngine.sanity, in this process."""
        from vetgrad.conformance.subject.sanity import check

        return check(self.adapter)

    def composition(self, forms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """As ChildEngine.composition, in this process."""
        from vetgrad.conformance.subject.composition import built_from

        return built_from(self.adapter, forms)

    def spellings(self, pairs: list[tuple[str, str]]) -> list[str | None]:
        """As ChildEngine.spellings, in this process."""
        chosen = getattr(self.adapter, "spelling", None)
        return [None if chosen is None else chosen(OPS[op], form) for op, form in pairs]

    def precision(self) -> tuple[str, float]:
        """What the engine stores numbers in (adapters.precision)."""
        from vetgrad.conformance.subject.adapters import precision

        return precision(self.adapter)

    def submit(self, graphs: Sequence[Graph]) -> None:
        """Remember ``graphs`` for :meth:`collect` (this process runs them then: no overlap)."""
        self._submitted = list(graphs)

    def collect(self) -> list[GraphRun]:
        return self.run(self._submitted)

    def run(self, graphs: Sequence[Graph]) -> list[GraphRun]:
        out = []
        for graph in graphs:
            if hang_cap_reached(self):
                break  # the rest would cost a timeout each: not run, not counted
            alone: list[OpAlone] = []
            try:
                with deadline(self.timeout):
                    run = run_engine(self.adapter, graph, alone)
                out.append(GraphRun(run, alone))
            except EngineTimeoutError as exc:
                self.hangs += 1
                out.append(GraphRun(EngineRun([], [], (graph.root, f"EngineTimeoutError: {exc}")),
                                    alone, True))
        self._runs, self._derivs = [g.run for g in out], {}
        return out

    def derivatives(self, k: int, leaf: int, max_order: int) -> list[Any]:
        """Graph ``k`` of the last batch: see :func:`derivatives`."""
        with deadline(self.timeout):
            values, self._derivs[k] = derivatives(self.adapter, self._runs[k], leaf, max_order)
        return values

    def derivative_graph(self, k: int, order: int) -> list[NodeInfo]:
        return self.adapter.derivative_graph(self._derivs[k][order - 1])

    def derivative_at(self, graph: Graph, leaf: int, x: float, order: int) -> float:
        with deadline(self.timeout):
            return derivative_at(self.adapter, graph, leaf, x, order)

    def fresh(self) -> LocalEngine:
        """The same engine for a new start (here: the same process)."""
        return self

    def close(self) -> None:
        self._runs, self._derivs = [], {}


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise EngineTimeoutError inside whatever runs after ``seconds`` (then every second, in case the
    engine swallows it). Needs SIGALRM and the main thread; elsewhere there is no deadline."""
    if not seconds or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise EngineTimeoutError(f"no result after {seconds:g} s: an op or a backward() that never "
                            f"ends? (--graph-timeout)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
