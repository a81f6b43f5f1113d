"""The harness's side of the engine's own process (:mod:`conformance.child`): start it, send it
graphs in batches, read its answers under a deadline, and turn a process that exited, was killed
or stopped answering into a verdict on the graph it was running; a fresh process takes over.
Nothing the engine does in its process (exit, crash, hang, patching torch, changing global
state) reaches the torch reference or the judge, which stay here."""

from __future__ import annotations

from typing import Any, Sequence

from conformance.adapters import NodeInfo
from conformance.engine_process import EngineProcess, _LostError
from conformance.engine_run import (
    GRAPH_TIMEOUT,
    LOST,
    PHASES,
    PROBE,
    EngineFailureError,
    EngineRun,
    GraphRun,
    OpAlone,
    alone_cases,
    hang_cap_reached,
)
from conformance.engine_spec import EngineSpec
from conformance.graph import Graph
from engine.ops import OPS

__all__ = ["ChildEngine", "ProbeError"]


class ChildEngine(EngineProcess):
    """The engine session in its own process: graphs in batches (a lost process is a verdict on
    the graph it was running, and a fresh one runs the rest), the probe, higher derivatives."""

    def __init__(self, spec: EngineSpec, timeout: float | None = GRAPH_TIMEOUT,
                 memory_limit: int | None = None) -> None:
        super().__init__(spec, timeout, memory_limit)
        self._where: list[tuple[int, int]] = []  # batch position -> (generation, index there)
        self._graphs: list[Graph] = []
        self._sent: _LostError | None = None  # how the last submit() failed, if it did
        self.hangs, self.max_hangs = 0, 0  # graphs that ran out of time; 0: no cap

    def forms(self) -> dict[str, tuple[str, ...]]:
        """The probe, run in the engine's process under the deadline (EngineFailureError names the op
        it was probing when the process was lost)."""
        self._ensure()
        try:
            return self._ask(("probe",), "in the probe")
        except _LostError as exc:
            _, node, phase = self._where_now()
            op = list(OPS)[node] if phase == PROBE and 0 <= node < len(OPS) else "?"
            raise ProbeError(op, self._lost(exc).replace("in the probe", f"in the probe of {op}")) from None

    def spellings(self, pairs: list[tuple[str, str]]) -> list[str | None]:
        """The spelling (``operator``, ``method``) the engine's process applies each ``(op, form)``
        with (None: the adapter has one way only, ``apply``)."""
        self._ensure()
        try:
            return list(self._ask(("spellings", pairs), "reading the spellings"))
        except _LostError as exc:
            self._lost(exc)
            return [None] * len(pairs)

    def probe_log(self) -> list[tuple[str, ...]]:
        """The last probe's decisions (op, form, spelling, decision, why), from the engine's process."""
        self._ensure()
        try:
            return [tuple(d) for d in self._ask(("probe_log",), "reading the probe's decisions")]
        except _LostError as exc:
            self._lost(exc)
            return []

    def precision(self) -> tuple[str, float]:
        """What the engine stores numbers in, seen in its own process (float64 if the process is
        lost while looking: the graphs will then say what went wrong)."""
        self._ensure()
        try:
            name, eps = self._ask(("precision",), "while reading its number type")
        except _LostError as exc:
            self._lost(exc)  # closes the lost process; a fresh one runs the graphs
            return "float64", 2.0**-52
        return str(name), float(eps)

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
        lost if it died while idle (the first of them is then blamed)."""
        if not graphs:
            return None
        self._ensure()
        try:
            self._send(("run", graphs))
        except _LostError as exc:
            return exc
        return None

    def collect(self) -> list[GraphRun]:
        """The answers to the last :meth:`submit`, one per graph, in order."""
        out: list[GraphRun] = []
        todo, lost = list(self._graphs), self._sent
        while todo:
            if lost is None:
                for k, graph in enumerate(todo):
                    try:
                        message = self._receive("")
                        if message[0] != "graph" or len(message) != 10:
                            raise _LostError("the engine's process broke the protocol")
                    except _LostError as exc:
                        todo, lost = todo[k:], exc
                        break
                    self._where.append((self.generation, k))
                    out.append(_graph_run(graph, message))
                else:
                    break
            # the process was lost running todo[0]: a verdict on it, and a fresh one for the rest
            out.append(self._lost_graph(todo[0], lost))
            todo = todo[1:] if not hang_cap_reached(self) else []
            lost = self._resend(todo)
        return out

    def _lost_graph(self, graph: Graph, exc: _LostError) -> GraphRun:
        _, node, phase = self._where_now()
        node = min(max(node, 0), graph.root)
        op = "graph" if PHASES[phase] == "backward()" else graph.nodes[node].op
        where = f"in {op} (node {node}, {PHASES[phase]})" if op != "graph" else "in backward()"
        text = str(exc).rstrip()
        if text.startswith("no answer"):
            self.hangs += 1
            text += f" {where}: an op or a backward() that never ends? (--graph-timeout)"
        else:
            text += f" {where}"
        message = self._lost(_LostError(text))
        self._where.append((-1, -1))
        run = EngineRun([], [], (node, LOST + message), crash_op="graph" if op == "graph" else None)
        return GraphRun(run, [], True)

    def _locate(self, k: int) -> int:
        """Index of batch graph ``k`` in the current process's last run (run again there if
        the process that ran it was lost)."""
        generation, index = self._where[k]
        if generation != self.generation or self.proc is None:
            self._ensure()
            self._send(("run", [self._graphs[k]]))
            message = self._receive("")
            if message[0] != "graph":
                raise _LostError("the engine's process broke the protocol")
            self._where = [(-1, -1)] * len(self._where)
            self._where[k] = (self.generation, 0)
            index = 0
        return index

    def _request(self, build: Any, doing: str) -> Any:
        try:
            return build()
        except _LostError as exc:
            raise EngineFailureError(self._lost(_LostError(f"{exc} {doing}".rstrip()))) from None

    def derivatives(self, k: int, leaf: int, max_order: int) -> list[Any]:
        return self._request(lambda: self._ask(("derivatives", self._locate(k), leaf, max_order), ""),
                             "in the higher-order check (grad_of)")

    def derivative_graph(self, k: int, order: int) -> list[NodeInfo]:
        try:
            rows = self._request(lambda: self._ask(("derivative_graph", self._locate(k), order), ""),
                                 "in derivative_graph")
        except EngineFailureError:
            return []
        return [NodeInfo(op, tuple(inputs), value, tuple(constant)) for op, inputs, value, constant in rows]

    def derivative_at(self, graph: Graph, leaf: int, x: float, order: int) -> float:
        self._ensure()
        return self._request(lambda: self._ask(("derivative_at", graph, leaf, x, order), ""),
                             "in a finite difference of the engine's derivative")

    def modules(self) -> list[str]:
        """The modules the engine's process has imported (for tests)."""
        self._ensure()
        return self._ask(("modules",), "")


class ProbeError(EngineFailureError):
    """The engine's process was lost in the probe, in op ``op``."""

    def __init__(self, op: str, message: str) -> None:
        super().__init__(message)
        self.op = op


def _graph_run(graph: Graph, message: tuple) -> GraphRun:
    """A graph's answer as the checker's data (nodes from the graph, numbers from the engine)."""
    _, values, crash, backward_error, grads, repeat_error, repeat_node, alone, output, again = message
    run = EngineRun(list(values), [], None if crash is None else (int(crash[0]), str(crash[1])),
                    backward_error, None if grads is None else list(grads), repeat_error,
                    int(repeat_node), repeat_grads=None if again is None else list(again))
    cases = alone_cases(graph, run.values) if run.crash is None and len(run.values) == len(graph.nodes) else ()
    ops = [OpAlone(i, node, form, inputs, tuple(result)) for (i, node, form, inputs), result in zip(cases, alone)]
    return GraphRun(run, ops, False, str(output))
