"""The harness's side of the engine's own process (:mod:`conformance.subject.server`): start it, send it
graphs in batches, read its answers under a deadline, and turn a process that exited, was killed
or stopped answering into a verdict on the graph it was running; a fresh process takes over.
Nothing the engine does in its process (exit, crash, hang, patching torch, changing global
state) reaches the torch reference or the judge, which stay here."""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from vetgrad.conformance.dags.graph import Graph
from vetgrad.conformance.errors import ProbeError
from vetgrad.conformance.subject import protocol as P  # noqa: N812
from vetgrad.conformance.subject.adapters import EngineLoadError, NodeInfo
from vetgrad.conformance.subject.execute import (
    GRAPH_TIMEOUT,
    LOST,
    PHASES,
    PROBE,
    RULES,
    EngineFailureError,
    EngineRun,
    GraphRun,
    OpAlone,
    alone_cases,
    hang_cap_reached,
    where,
)
from vetgrad.conformance.subject.process import EngineProcess, _LostError
from vetgrad.conformance.subject.protocol import GraphAnswer
from vetgrad.conformance.subject.spec import EngineSpec
from vetgrad.engine.ops import OPS

__all__ = ["ChildEngine", "EngineSession", "ProbeError"]


@runtime_checkable
class EngineSession(Protocol):
    """What the campaign and the judge ask of an engine session, wherever the engine runs: in its
    own process (:class:`ChildEngine`) or in the harness's (``conformance.subject.execute.LocalEngine``).
    ``tests/test_session_protocol.py`` holds both to it."""

    name: str
    supports_higher_order: bool
    timeout: float | None
    hangs: int  # graphs that ran out of time
    max_hangs: int  # graphs that may run out of time before a campaign stops (0: no cap)

    def forms(self) -> dict[str, tuple[str, ...]]:
        """The probe: op -> the operand forms the engine offers."""

    def probe_log(self) -> list[tuple[str, ...]]:
        """The last probe's decisions (op, form, spelling, decision, why)."""

    def sanity(self) -> list[tuple[str, str]]:
        """(cause, message) of each fault of the engine as a whole."""

    def composition(self, forms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """op -> the other ops the engine builds its result from."""

    def spellings(self, pairs: list[tuple[str, str]]) -> list[str | None]:
        """The spelling the engine applies each ``(op, form)`` with (None: ``apply`` only)."""

    def precision(self) -> tuple[str, float]:
        """What the engine stores numbers in: (name, machine epsilon)."""

    def submit(self, graphs: Sequence[Graph]) -> None:
        """Hand ``graphs`` to the engine; :meth:`collect` reads what it did."""

    def collect(self) -> list[GraphRun]:
        """What the engine did on each graph of the last :meth:`submit`, in order."""

    def run(self, graphs: Sequence[Graph]) -> list[GraphRun]:
        """:meth:`submit` then :meth:`collect`."""

    def derivatives(self, k: int, leaf: int, max_order: int) -> list[Any]:
        """Derivatives of graph ``k`` of the last batch w.r.t. ``leaf``, orders 2..max_order."""

    def derivative_graph(self, k: int, order: int) -> list[NodeInfo]:
        """The nodes the engine built for derivative ``order`` of graph ``k``."""

    def derivative_at(self, graph: Graph, leaf: int, x: float, order: int) -> float:
        """The engine's derivative of ``order`` of ``graph`` at ``leaf = x``."""

    def fresh(self) -> EngineSession:
        """This engine, in a state that has run nothing yet."""

    def close(self) -> None:
        """Free what the session holds (its process, if any)."""


class ChildEngine(EngineProcess):
    """The engine session in its own process: graphs in batches (a lost process is a verdict on
    the graph it was running, and a fresh one runs the rest), the probe, higher derivatives."""

    def __init__(self, spec: EngineSpec, timeout: float | None = GRAPH_TIMEOUT,
                 memory_limit: int | None = None) -> None:
        super().__init__(spec, timeout, memory_limit)
        self._where: list[tuple[int, int]] = []  # batch position -> (generation, index there)
        self._graphs: list[Graph] = []
        self._sent: _LostError | None = None  # how the last submit() failed, if it did
        self._no_restart = ""  # why a fresh process could not take over (cleared when one does)
        self.hangs, self.max_hangs = 0, 0  # graphs that ran out of time; 0: no cap

    def forms(self) -> dict[str, tuple[str, ...]]:
        """The probe, run in the engine's process under the deadline (EngineFailureError names the op
        it was probing when the process was lost)."""
        self._ensure()
        try:
            return self._ask((P.PROBE,), "in the probe")
        except _LostError as exc:
            op = self._probing()
            raise ProbeError(op, self._lost(exc).replace("in the probe", f"in the probe of {op}")) from None
        except EngineFailureError as exc:  # an exception out of the probe itself (a broken rule)
            op, text = self._probing(), str(exc)
            said = (f"{RULES} in the probe of {op}: {text.removesuffix(f' ({RULES})')}" if RULES in text
                    else f"the engine raised {text} in the probe of {op}")
            raise ProbeError(op, self._lost(_LostError(said))) from None

    def _probing(self) -> str:
        """The op the probe was at when its process was lost or failed ('?': not known)."""
        _, node, phase = self._where_now()
        return list(OPS)[node] if phase == PROBE and 0 <= node < len(OPS) else "?"

    def sanity(self) -> list[tuple[str, str]]:
        """(cause, message) of each fault of the engine as a whole (conformance.subject.sanity), read in
        the engine's process; [] when the process is lost doing it (the graphs will show it)."""
        self._ensure()
        try:
            return [tuple(x) for x in self._ask((P.SANITY,), "checking the engine as a whole")]
        except _LostError as exc:
            self._lost(exc)
            return []
        except EngineFailureError:
            return []

    def composition(self, forms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """op -> the other ops the engine builds its result from (conformance.subject.composition), read
        in the engine's process; {} when the process is lost doing it."""
        self._ensure()
        try:
            return dict(self._ask((P.COMPOSITION, forms), "reading how ops are built"))
        except _LostError as exc:
            self._lost(exc)
            return {}
        except EngineFailureError:
            return {}

    def spellings(self, pairs: list[tuple[str, str]]) -> list[str | None]:
        """The spelling (``operator``, ``method``) the engine's process applies each ``(op, form)``
        with (None: the adapter has one way only, ``apply``)."""
        try:
            self._ensure()
            return list(self._ask((P.SPELLINGS, pairs), "reading the spellings"))
        except _LostError as exc:
            self._lost(exc)
        except (EngineFailureError, EngineLoadError):
            pass
        return [None] * len(pairs)

    def probe_log(self) -> list[tuple[str, ...]]:
        """The last probe's decisions (op, form, spelling, decision, why), from the engine's process."""
        try:
            self._ensure()
            return [tuple(d) for d in self._ask((P.PROBE_LOG,), "reading the probe's decisions")]
        except _LostError as exc:
            self._lost(exc)
        except (EngineFailureError, EngineLoadError):
            pass
        return []

    def precision(self) -> tuple[str, float]:
        """What the engine stores numbers in, seen in its own process (float64 if the process is
        lost while looking: the graphs will then say what went wrong)."""
        try:
            self._ensure()
            name, eps = self._ask((P.PRECISION,), "while reading its number type")
            return str(name), float(eps)
        except _LostError as exc:
            self._lost(exc)  # closes the lost process; a fresh one runs the graphs
        except (EngineFailureError, EngineLoadError, TypeError, ValueError):
            pass  # (the graphs will say what is wrong)
        return "float64", 2.0**-52

    def run(self, graphs: Sequence[Graph]) -> list[GraphRun]:
        """Each graph in the engine, in order; a lost process is a verdict on the graph it was
        running, and a fresh one runs the rest."""
        self.submit(graphs)
        return self.collect()

    def submit(self, graphs: Sequence[Graph]) -> None:
        """Send ``graphs`` to the engine's process and return at once: the engine runs them
        while this process does other work; :meth:`collect` reads the answers."""
        self._where, self._graphs = [], list(graphs)
        self._sent = self._resend(self._graphs)

    def _resend(self, graphs: list[Graph]) -> _LostError | None:
        """Ask the engine's process (a fresh one if it was lost) to run ``graphs``; how it was
        lost if it died while idle (the first of them is then blamed). When no fresh process
        can load the engine, ``_no_restart`` says why (:meth:`collect` gives each graph that
        verdict)."""
        if not graphs:
            return None
        try:
            self._ensure()
        except EngineLoadError as exc:
            self._no_restart = str(exc)
            return _LostError(self._no_restart)
        self._no_restart = ""
        try:
            self._send((P.RUN, graphs))
        except _LostError as exc:
            return exc
        return None

    def collect(self) -> list[GraphRun]:
        """The answers to the last :meth:`submit`, one per graph, in order."""
        out: list[GraphRun] = []
        todo, lost, running = list(self._graphs), self._sent, 0
        while todo:
            if self._no_restart:  # no fresh process loads the engine: a verdict on each graph
                out.extend(self._not_run(graph) for graph in todo)
                break
            if lost is None:
                for k, graph in enumerate(todo):
                    try:
                        out.append(_graph_run(graph, self._receive("")))
                    except _LostError as exc:
                        todo, lost, running = todo[k:], exc, k
                        break
                    self._where.append((self.generation, k))
                else:
                    break
            # the process was lost running todo[0]: a verdict on it, and a fresh one for the rest
            out.append(self._lost_graph(todo[0], lost, running))
            todo = todo[1:] if not hang_cap_reached(self) else []
            lost, running = self._resend(todo), 0
        return out

    def _lost_graph(self, graph: Graph, exc: _LostError, running: int = 0) -> GraphRun:
        """The verdict on ``graph``, the ``running``-th of the process's last run request, whose
        process was lost (where it was: the mark, when the mark is this graph's)."""
        marked, node, phase = self._where_now()
        if marked == running:
            node = min(max(node, 0), graph.root)
            at = where(graph, node, phase)
        else:  # lost before its first step (a stale mark: another graph's, or the probe's)
            node, phase, at = graph.root, -1, "before the graph's first step"
        backward = 0 <= phase < len(PHASES) and PHASES[phase] == "backward()"
        text = str(exc).rstrip()
        if text.startswith("no answer"):
            self.hangs += 1
            text += f" {at}: an op or a backward() that never ends? (--graph-timeout)"
        else:
            text += f" {at}"
        message = self._lost(_LostError(text))
        self._where.append((-1, -1))
        run = EngineRun([], [], (node, LOST + message),
                        crash_op="graph" if backward or phase == -1 else None)
        return GraphRun(run, [], True)

    def _not_run(self, graph: Graph) -> GraphRun:
        """The verdict on a graph no process could run: the engine's process was lost, and a
        fresh one could not load the engine."""
        self._where.append((-1, -1))
        text = (f"the engine's process was lost and a fresh one could not load the engine again "
                f"({self._no_restart})")
        return GraphRun(EngineRun([], [], (graph.root, LOST + text), crash_op="graph"), [], False)

    def _locate(self, k: int) -> int:
        """Index of batch graph ``k`` in the current process's last run (run again there if
        the process that ran it was lost)."""
        generation, index = self._where[k] if 0 <= k < len(self._where) else (-1, -1)
        if generation != self.generation or self.proc is None:
            if not 0 <= k < len(self._graphs):
                raise _LostError(f"(the harness asked for graph {k} of a batch of {len(self._graphs)})")
            self._ensure()
            self._send((P.RUN, [self._graphs[k]]))
            _graph_run(self._graphs[k], self._receive(""))  # (checks the answer)
            self._where = [(-1, -1)] * max(len(self._where), len(self._graphs))
            self._where[k] = (self.generation, 0)
            index = 0
        return index

    def _request(self, build: Any, doing: str) -> Any:
        try:
            return build()
        except _LostError as exc:
            raise EngineFailureError(self._lost(_LostError(f"{exc} {doing}".rstrip()))) from None
        except EngineLoadError as exc:  # a fresh process could not load the engine
            raise EngineFailureError(f"the engine's process could not be started again {doing}: "
                                     f"{exc}") from None

    def derivatives(self, k: int, leaf: int, max_order: int) -> list[Any]:
        return self._request(lambda: self._ask((P.DERIVATIVES, self._locate(k), leaf, max_order), ""),
                             "in the higher-order check (grad_of)")

    def derivative_graph(self, k: int, order: int) -> list[NodeInfo]:
        try:
            rows = self._request(lambda: self._ask((P.DERIVATIVE_GRAPH, self._locate(k), order), ""),
                                 "in derivative_graph")
        except EngineFailureError:
            return []
        return [NodeInfo(op, tuple(inputs), value, tuple(constant)) for op, inputs, value, constant in rows]

    def derivative_at(self, graph: Graph, leaf: int, x: float, order: int) -> float:
        def ask() -> Any:
            self._ensure()
            return self._ask((P.DERIVATIVE_AT, graph, leaf, x, order), "")

        return self._request(ask, "in a finite difference of the engine's derivative")

    def modules(self) -> list[str]:
        """The modules the engine's process has imported (for tests)."""
        self._ensure()
        return self._ask((P.MODULES,), "")


def _graph_run(graph: Graph, answer: Any) -> GraphRun:
    """A graph's answer (a :class:`GraphAnswer`) as the checker's data (nodes from the graph,
    numbers from the engine); _LostError (a broken protocol) for an answer of any other kind or
    shape: what the engine's process sends is checked, never trusted to index with."""
    if not isinstance(answer, GraphAnswer):
        if isinstance(answer, tuple) and len(answer) == 2 and answer[0] == P.ERROR:
            raise _LostError(f"the engine's process broke the protocol (an error where a graph's "
                             f"answer belongs: {answer[1]})")
        raise _LostError("the engine's process broke the protocol (another answer where a "
                         "graph's belongs)")
    try:
        n = len(graph.nodes)
        values = [float(v) for v in answer.values]
        crash = answer.crash
        if crash is not None:
            crash = (int(crash[0]), str(crash[1]))
            if not 0 <= crash[0] < n:
                raise ValueError(f"a crash at node {crash[0]} of {n}")
        grads = None if answer.grads is None else [float(g) for g in answer.grads]
        again = None if answer.repeat_grads is None else [float(g) for g in answer.repeat_grads]
        if (crash is None and len(values) != n) or any(
                g is not None and len(g) != len(values) for g in (grads, again)):
            raise ValueError("an answer of the wrong shape")
        run = EngineRun(values, [], crash, _text(answer.backward_error), grads,
                        _text(answer.repeat_error), int(answer.repeat_node), repeat_grads=again)
        cases = alone_cases(graph, values, None if crash is None else crash[0])
        ops = [OpAlone(i, node, form, inputs, (float(value), None if ds is None else tuple(map(float, ds)),
                                                _text(error)))
               for (i, node, form, inputs), (value, ds, error) in zip(cases, answer.alone)]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise _LostError(f"the engine's process broke the protocol ({exc})") from None
    return GraphRun(run, ops, False, str(answer.output))


def _text(x: Any) -> str | None:
    if x is not None and not isinstance(x, str):
        raise TypeError(f"a {type(x).__name__} where a message belongs")
    return x
