"""The checker: runs graphs in the engine and in torch and judges every value and gradient,
locally (each op alone on the engine's own inputs) and end to end (the whole graph, where
accumulation and ordering show); returns one :class:`GraphResult` per graph."""

from __future__ import annotations

import math
from typing import Any, Sequence

from conformance import judge as J  # noqa: N812 - short name for verdict constants
from conformance.adapters import Adapter
from conformance.engine_run import GRAPH_TIMEOUT, LOST, EngineFailureError, EngineRun, LocalEngine
from conformance.graph import Graph, Node
from conformance.higher_order import check_higher_order
from conformance.local_judge import judge_aliased, judge_local
from conformance.oracle import explained, replay
from conformance.report import Finding, GraphResult, OpStats
from conformance.torch_ref import LocalCase, TorchRun, run_graph, run_graphs, run_local
from engine.ops import OPS

# The op-table row of the check that a second backward() adds the same gradients again.
BACKWARD_TWICE = "backward x2"

# One op run alone, ready to judge: (node index, node, inputs, engine's result, torch case index).
Local = tuple[int, Node, tuple[float, ...], Any, int]


class Checker:
    """Judges graphs for one engine on one device."""

    def __init__(self, adapter: Adapter | Any, device: str, strict: bool, higher_order: int = 0,
                 graph_timeout: float | None = GRAPH_TIMEOUT) -> None:
        """``adapter``: an Adapter (run in this process) or an engine session (its own process:
        conformance.isolation.ChildEngine)."""
        self.engine = LocalEngine(adapter, graph_timeout) if isinstance(adapter, Adapter) else adapter
        self.device, self.strict = device, strict
        self.higher_order = higher_order if self.engine.supports_higher_order else 0
        self.graph_timeout = graph_timeout

    def check(self, graphs: Sequence[Graph], indices: Sequence[int]) -> list[GraphResult]:
        """Check ``graphs`` (graph ``indices`` of a campaign; -1 for the edge sweep), the torch
        references of all of them batched: one result per graph, in order."""
        prepared: list[tuple[Graph, EngineRun, list[Local]]] = []
        cases: list[LocalCase] = []
        runs = self.engine.run(graphs)
        for graph, (run, alone, timed_out, _) in zip(graphs, runs):
            locals_: list[Local] = []
            for a in alone:
                if not timed_out:
                    locals_.append((a.index, a.node, a.inputs, a.result, len(cases)))
                cases.append(LocalCase(OPS[a.node.op], a.form, a.inputs, a.node.params))
            prepared.append((graph, run, locals_))
        torch_locals = run_local(cases, self.device) if cases else []
        refs = run_graphs([g for g, run, _ in prepared], self.device)
        results = [self._check_one(graph, index, run, locals_, torch_locals, ref, k)
                   for k, ((graph, run, locals_), index, ref) in enumerate(zip(prepared, indices, refs))]
        for result, graph_run in zip(results, runs):
            if result.finding is not None and graph_run.output:
                result.finding.message += f" (the engine printed {graph_run.output!r})"
        return results

    def _check_one(self, graph: Graph, index: int, run: EngineRun, locals_: list[Local],
                   torch_locals: list, ref: TorchRun, k: int = 0) -> GraphResult:
        result = GraphResult(index)
        findings = self._judge_graph(graph, run, locals_, torch_locals, ref, result)
        if findings and ref.batched:
            # ask torch's 0-d kernels, the ones a graph of scalars meets, before reporting
            result = GraphResult(index)
            findings = self._judge_graph(graph, run, locals_, torch_locals,
                                         run_graph(graph, self.device), result)
        if not findings and self.higher_order:
            try:
                findings = check_higher_order(self.engine, k, graph, run, self.device,
                                              self.higher_order, result)
            except EngineFailureError as exc:
                text = str(exc) if type(exc) is EngineFailureError else f"{type(exc).__name__}: {exc}"
                findings = [Finding("crash", "higher-order", graph.root, text, graph, self.device)]
        if findings:  # the first finding of a graph explains it
            findings[0].index = index
            result.finding = findings[0]
        return result

    def _judge_graph(self, graph: Graph, run: EngineRun, locals_: list[Local], torch_locals: list,
                     ref: TorchRun, result: GraphResult) -> list[Finding]:
        findings: list[Finding] = []
        stats = result.per_op

        def find(kind: str, op: str, node: int, message: str) -> None:
            findings.append(Finding(kind, op, node, message, graph, self.device))

        if run.crash is not None:
            node, error = run.crash
            op = run.crash_op or graph.nodes[node].op
            stats.setdefault(op, OpStats()).add(J.FAIL, math.inf)
            find("crash", op, node, error[len(LOST):] if error.startswith(LOST) else
                 f"engine raised {error} where torch returns {ref.values[node]!r}")
            return findings
        # Local: each op on the engine's own inputs.
        local_derivs: dict[int, tuple[float, ...]] = {}
        for i, node, inputs, mine, k in locals_:
            if len(inputs) < len(node.args):  # x op x, one leaf as both operands
                message = judge_aliased(node, inputs[0], mine, torch_locals[k], stats,
                                        self.device, self.strict)
            else:
                message = judge_local(node, inputs, mine, torch_locals[k], stats, local_derivs, i,
                                      self.device, self.strict)
            if message is not None:
                find(message[0], node.op, i, message[1])
        if findings:
            return findings
        # End to end.
        if (run.backward_error is not None) != (ref.grads is None):
            op = next((n.op for n in graph.nodes if n.op != "leaf" and not OPS[n.op].differentiable), "graph")
            if ref.grads is None:
                find("raises", op, graph.root, f"engine backward returned; torch raised: {ref.error}")
            else:
                find("crash", "graph", graph.root, f"engine backward raised {run.backward_error}")
            return findings
        # Every value was judged locally from its inputs: what differs end to end is rounding
        # carried along the graph, never a bug of its own.
        imprecise = any(J.float_mismatch(v, tv) for v, tv in zip(run.values, ref.values))
        if ref.grads is not None and run.grads is not None:
            replayed = None
            for i, (g, tg) in enumerate(zip(run.grads, ref.grads)):
                if not J.float_mismatch(g, tg):
                    continue
                if replayed is None:
                    replayed = replay(graph, local_derivs)
                if replayed is None or not explained(g, replayed, i, len(graph.nodes)):
                    exact = None if replayed is None else float(replayed[0][i])
                    find("end-to-end", "graph", i,
                         f"d(root)/d(node {i}) = {g!r}, torch {tg!r}, exact replay of the engine's own "
                         f"local derivatives {exact!r}: the engine's backward does not sum what its own "
                         f"ops give (a contribution lost, doubled or sent to the wrong node, or a grad "
                         f"changed after the pass)")
                    return findings
                imprecise = True
        twice = stats.setdefault(BACKWARD_TWICE, OpStats())
        if run.repeat_error is not None:
            twice.add(J.FAIL, math.inf)
            node = max(run.repeat_node, 0)
            find("repeat-backward", "graph", node, run.repeat_error)
            return findings
        if run.grads is not None:
            twice.add(J.OK, 0.0)
        if imprecise:
            result.imprecise += 1
        return findings
