"""The checker: runs graphs in the engine and in torch and judges every value and gradient,
locally (each op alone on the engine's own inputs) and end to end (the whole graph, where
accumulation and ordering show); returns one :class:`GraphResult` per graph."""

from __future__ import annotations

import math
from typing import Any, Sequence

from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.judging import levels as L  # noqa: N812 - short name for the ladder
from vetgrad.conformance.judging import number as J  # noqa: N812 - short name for verdict constants
from vetgrad.conformance.judging.higher_order import check_higher_order
from vetgrad.conformance.judging.local import judge_aliased, judge_local
from vetgrad.conformance.judging.numerics import versus
from vetgrad.conformance.judging.oracle import (
    Replay,
    clearly_unexplained,
    explained,
    float_replay,
    replay,
)
from vetgrad.conformance.judging.results import Finding, GraphResult, OpStats
from vetgrad.conformance.reference.torch_run import (
    LocalCase,
    TorchRun,
    run_graph,
    run_graphs,
    run_local,
)
from vetgrad.conformance.subject.adapters import Adapter
from vetgrad.conformance.subject.execute import (
    GRAPH_TIMEOUT,
    LOST,
    EngineFailureError,
    EngineRun,
    LocalEngine,
)
from vetgrad.conformance.subject.sanity import CAUSE_IN_BACKWARD, IN_BACKWARD
from vetgrad.conformance.subject.session import EngineSession
from vetgrad.engine.ops import OPS

# The op-table row of the check that a second backward() adds the same gradients again.
BACKWARD_TWICE = "backward x2"

# One op run alone, ready to judge: (node index, node, inputs, engine's result, torch case index).
Local = tuple[int, Node, tuple[float, ...], Any, int]
# One op judged alone: (node, the engine's inputs, torch's result on them).
_Judged = tuple[Node, tuple[float, ...], tuple]
def _rounds_with_torch(f: Finding) -> bool:
    """Whether a finding compares the engine's end-to-end numbers with torch's batched graph run,
    whose kernels round otherwise than the 0-d ones a graph of scalars meets: then the graph is
    judged again against those. Not a local finding (judged against 0-d kernels already), a crash
    or a second backward() (the engine against itself), nor a lost contribution (the engine
    against the exact replay of its own local derivatives)."""
    return f.kind in ("end-to-end", "raises", "value", "grad") and f.cause != L.LOST_CONTRIBUTION


class Checker:
    """Judges graphs for one engine on one device."""

    def __init__(self, adapter: Adapter | EngineSession, device: str, strict: bool, higher_order: int = 0,
                 graph_timeout: float | None = GRAPH_TIMEOUT) -> None:
        """``adapter``: an Adapter (run in this process) or an engine session (its own process:
        conformance.subject.session.ChildEngine)."""
        self.engine = LocalEngine(adapter, graph_timeout) if isinstance(adapter, Adapter) else adapter
        self.device, self.strict = device, strict
        self.higher_order = higher_order if self.engine.supports_higher_order else 0
        self.graph_timeout = graph_timeout
        # the engine's number type, once seen: its rounding is no failure (but in strict mode)
        self.precision, self.eps = self.engine.precision()

    def check(self, graphs: Sequence[Graph], indices: Sequence[int]) -> list[GraphResult]:
        """Check ``graphs`` (graph ``indices`` of a campaign; -1 for the edge sweep), the torch
        references of all of them batched: one result per graph, in order."""
        self.engine.submit(graphs)
        return self.judge(graphs, indices, self.reference(graphs))

    # A campaign pipelines the three stages: submit batch b+1 to the engine's process, then
    # judge batch b and take batch b+2's references while the engine runs.

    def reference(self, graphs: Sequence[Graph]) -> list[TorchRun]:
        """torch's end-to-end runs of ``graphs`` (batched), which need nothing from the engine."""
        return run_graphs(graphs, self.device)

    def judge(self, graphs: Sequence[Graph], indices: Sequence[int],
              refs: list[TorchRun]) -> list[GraphResult]:
        """The engine's answers to the graphs last submitted (``self.engine.submit(graphs)``),
        judged against torch's (``refs``: :meth:`reference` of the same graphs)."""
        return self.judge_runs(graphs, indices, self.engine.collect(), refs)

    def judge_runs(self, graphs: Sequence[Graph], indices: Sequence[int], runs: list[Any],
                   refs: list[TorchRun]) -> list[GraphResult]:
        """:meth:`judge` on answers already collected (``runs``, one per graph)."""
        with J.rounding(J.EPS if self.strict else self.eps):
            return self._check(graphs, indices, runs, refs)

    def _check(self, graphs: Sequence[Graph], indices: Sequence[int], runs: list[Any],
               refs: list[TorchRun]) -> list[GraphResult]:
        prepared: list[tuple[Graph, EngineRun, list[Local]]] = []
        cases: list[LocalCase] = []
        for graph, (run, alone, timed_out, _) in zip(graphs, runs):
            locals_: list[Local] = []
            for index, node, form, inputs, result in alone:
                if not timed_out:
                    locals_.append((index, node, inputs, result, len(cases)))
                cases.append(LocalCase(OPS[node.op], form, inputs, node.params))
            prepared.append((graph, run, locals_))
        torch_locals = run_local(cases, self.device) if cases else []
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
        if findings and ref.batched and any(_rounds_with_torch(f) for f in findings):
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
            for f in findings:
                f.cause = f.cause or "a higher derivative differs from torch's"
        firsts: dict[str, Finding] = {}
        for f in findings:  # the first finding of a graph at each level explains it there
            f.index = index
            firsts.setdefault(f.level, f)
        result.findings = sorted(firsts.values(), key=lambda f: L.rank(f.level))
        result.finding = result.findings[0] if result.findings else None
        return result

    def _judge_graph(self, graph: Graph, run: EngineRun, locals_: list[Local], torch_locals: list,
                     ref: TorchRun, result: GraphResult) -> list[Finding]:
        """Judges one graph step by step, stopping where a finding explains the rest."""
        stats = result.per_op
        crashed = None if run.crash is None else self._crash_finding(graph, run, ref, stats)
        # Local: each op on the engine's own inputs (before a crash: whether an op upstream of
        # it gave a wrong value, which the crash is then a consequence of).
        findings, local_derivs, judged = self._judge_locals(graph, locals_, torch_locals, stats)
        if crashed is not None:
            return _without_consequences(graph, [*findings, crashed])
        findings = _without_consequences(graph, findings)
        if any(L.rank(f.level) == 0 for f in findings) or (findings and len(local_derivs) < len(
                [n for n in graph.nodes if n.op != "leaf" and OPS[n.op].differentiable])):
            return findings  # a wrong op explains the rest; without its derivatives no replay
        # End to end.
        if (run.backward_error is not None) != (ref.grads is None):
            findings.append(self._backward_mismatch(graph, run, ref, judged))
            return findings
        # Every value was judged locally from its inputs: what differs end to end is rounding
        # carried along the graph, never a bug of its own.
        imprecise = any(map(J.float_mismatch, run.values, ref.values))
        replays = _Replays(graph, local_derivs)
        if ref.grads is not None and run.grads is not None:
            wrong, rounded = self._judge_grads(graph, run.grads, ref.grads, replays, judged)
            imprecise = imprecise or rounded
            if wrong is not None:
                findings.append(wrong)
                if wrong.cause == L.LOST_CONTRIBUTION:
                    return findings  # the engine's backward itself is wrong: nothing more to judge
        repeated = self._judge_repeat(graph, run, replays, stats)
        if repeated is not None:
            findings.append(repeated)
        if imprecise:
            result.imprecise += 1
        return findings

    def _finding(self, graph: Graph, kind: str, op: str, node: int, message: str, level: str,
                 cause: str) -> Finding:
        """A finding about ``graph`` on this checker's device, at its ladder level with its cause."""
        return Finding(kind, op, node, message, graph, self.device, level=level, cause=cause)

    def _crash_finding(self, graph: Graph, run: EngineRun, ref: TorchRun,
                       stats: dict[str, OpStats]) -> Finding:
        """The finding for the engine raising in its forward pass, counted as a failure of its op."""
        node, error = run.crash  # type: ignore[misc]
        op = run.crash_op or graph.nodes[node].op
        stats.setdefault(op, OpStats()).add(J.FAIL, math.inf)
        # judged on the engine's own inputs where it has them: a divisor that rounding made
        # 0.0 in the engine (torch's is tiny) is no ordinary input
        seen = run.values[:node]
        level, cause = self._crash_level(graph, node, error, ref.values[node],
                                         [*seen, *ref.values[len(seen):]])
        return self._finding(graph, "crash", op, node, error[len(LOST):] if error.startswith(LOST)
                             else f"engine raised {error} where torch returns {ref.values[node]!r}",
                             level, cause)

    def _judge_locals(self, graph: Graph, locals_: list[Local], torch_locals: list,
                      stats: dict[str, OpStats]) -> tuple[list[Finding], dict[int, tuple[float, ...]],
                                                          list[_Judged]]:
        """Judges each op alone against torch, where derivative bugs show without cancellation noise."""
        findings: list[Finding] = []
        local_derivs: dict[int, tuple[float, ...]] = {}
        judged: list[_Judged] = []
        for i, node, inputs, mine, k in locals_:
            aliased = len(inputs) < len(node.args)  # x op x, one leaf as both operands
            theirs = torch_locals[k]
            if aliased:
                message = judge_aliased(node, inputs[0], mine, theirs, stats, self.device, self.strict)
            else:
                message = judge_local(node, inputs, mine, theirs, stats, local_derivs, i,
                                      self.device, self.strict)
                judged.append((node, inputs, theirs))
            if message is not None:
                xs = inputs * 2 if aliased else inputs
                level, cause = L.local_level(node.op, node.params, xs, message[0], mine, theirs,
                                             node.form)
                if message[0] == "crash" and IN_BACKWARD in message[1]:  # no op's fault: any op shows it
                    findings.append(self._finding(graph, "crash", "graph", i, message[1], level,
                                                  CAUSE_IN_BACKWARD))
                else:
                    findings.append(self._finding(graph, message[0], node.op, i, message[1], level,
                                                  cause))
        return findings, local_derivs, judged

    def _backward_mismatch(self, graph: Graph, run: EngineRun, ref: TorchRun,
                           judged: list[_Judged]) -> Finding:
        """The finding for a backward pass that raises in one of the engine and torch only."""
        op = next((n.op for n in graph.nodes if n.op != "leaf" and not OPS[n.op].differentiable), "graph")
        if ref.grads is None:
            return self._finding(graph, "raises", op, graph.root,
                                 f"engine backward returned; torch raised: {ref.error}",
                                 L.TORCH, f"backward through {op} returns a gradient where torch raises "
                                          f"(torch convention)")
        level, cause = self._crash_level(graph, graph.root, run.backward_error or "",
                                         ref.grads, ref.values, _ordinary(graph, judged))
        return self._finding(graph, "crash", "graph", graph.root,
                             f"engine backward raised {run.backward_error}", level, cause)

    def _judge_grads(self, graph: Graph, grads: list, torch_grads: list, replays: _Replays,
                     judged: list[_Judged]) -> tuple[Finding | None, bool]:
        """The first end-to-end gradient the engine's replayed local derivatives do not explain, and whether any were rounding."""
        rounded = False
        n = len(graph.nodes)
        for i, (g, tg) in enumerate(zip(grads, torch_grads)):
            if not J.float_mismatch(g, tg):
                continue
            fast = replays.floats() is not None and clearly_unexplained(g, replays.floats(), i, n)
            if not fast and replays.exact() is not None and explained(g, replays.exact(), i, n):
                rounded = True
                continue
            return self._unexplained_grad(graph, i, g, tg, fast, replays, judged), rounded
        return None, rounded

    def _unexplained_grad(self, graph: Graph, i: int, g: float, tg: float, fast: bool,
                          replays: _Replays, judged: list[_Judged]) -> Finding:
        """The finding for an unexplained gradient: a torch convention where one explains it, else a lost contribution."""
        if g == 0.0 and tg == 0.0:
            return self._finding(graph, "end-to-end", "graph", i, f"d(root)/d(node {i}) = {versus(g, tg)}",
                                 L.TORCH, "the sign of a zero gradient (torch convention)")
        unmasked = None if fast else replay(graph, replays.local_derivs, masks=False)
        if unmasked is not None and explained(g, unmasked, i, len(graph.nodes)):
            return self._finding(graph, "end-to-end", "graph", i,
                                 f"d(root)/d(node {i}) = {versus(g, tg)}: "
                                 f"a zero local derivative times an upstream nan or inf",
                                 L.TORCH, "0 × nan = nan where torch masks (torch convention)")
        value = (replays.floats()[0][i] if fast else  # type: ignore[index]
                 None if replays.exact() is None else float(replays.exact()[0][i]))  # type: ignore[index]
        return self._finding(
            graph, "end-to-end", "graph", i,
            f"d(root)/d(node {i}) = {versus(g, tg)}, exact replay of the engine's own "
            f"local derivatives {value!r}: the engine's backward does not sum what its own "
            f"ops give (a contribution lost, doubled or sent to the wrong node, or a grad "
            f"changed after the pass)", L.MATH if _ordinary(graph, judged) else L.ROBUST,
            L.LOST_CONTRIBUTION)

    def _judge_repeat(self, graph: Graph, run: EngineRun, replays: _Replays,
                      stats: dict[str, OpStats]) -> Finding | None:
        """Judges a second backward() (the engine against itself), counted in its own table row."""
        twice = stats.setdefault(BACKWARD_TWICE, OpStats())
        if run.repeat_error is not None or run.repeat_grads is not None:
            repeat = self._repeat(graph, run, replays.bounds)
            if repeat is None:
                twice.add(J.OK, 0.0)
                return None
            twice.add(J.FAIL, math.inf)
            return self._finding(graph, "repeat-backward", "graph", *repeat)
        if run.grads is not None:
            twice.add(J.OK, 0.0)
        return None

    @staticmethod
    def _crash_level(graph: Graph, node: int, error: str, torch_result: Any, values: list[float],
                     ordinary: bool | None = None) -> tuple[str, str]:
        """The level and cause of an exception in the forward pass at ``node`` (or in backward)."""
        deep = error.startswith("RecursionError") and L.graph_depth(graph.nodes) > L.SHALLOW_DEPTH
        cause = L.exception_cause(error, torch_result, deep)
        if deep:
            return L.ROBUST, cause
        if ordinary is None:
            n = graph.nodes[node]
            inputs = [a.value if isinstance(a, Const) else values[a] for a in n.args]
            ordinary = (L.ordinary_number(n.value) if n.op == "leaf"
                        else L.ordinary_case(n.op, inputs, n.params, values[node], form=n.form))
        return (L.MATH if ordinary else L.ROBUST), cause

    def _repeat(self, graph: Graph, run: EngineRun, bounds: Any) -> tuple[int, str, str, str] | None:
        """A second backward(): every leaf must get the same gradients again (robust, up to the
        rounding of the order it adds them in); the root's and interior nodes' retained grads
        doubling is torch's convention."""
        if run.repeat_grads is None or run.grads is None:
            return max(run.repeat_node, 0), run.repeat_error or "", L.ROBUST, \
                L.exception_cause(run.repeat_error or "", 0.0).replace("raises", "a second backward() raises")
        n = len(graph.nodes)
        interior = None
        for i, (g, g2) in enumerate(zip(run.grads, run.repeat_grads)):
            if J.identical(g + g, g2):
                continue
            message = (f"a second backward left d(root)/d(node {i}) at {g2!r}; torch "
                       f"(retain_graph=True) adds the same again: {g + g!r}")
            if graph.nodes[i].op != "leaf":
                interior = interior or (i, message, L.TORCH, "the root's or an interior node's .grad "
                                        "after a second backward() (torch convention)")
                continue
            scales = bounds()
            bound = float(scales[i]) if scales is not None else abs(g)
            if g == g and g2 == g2 and abs(g2 - 2 * g) <= J.DEFAULT_REL * abs(2 * g) + 8 * n * J.eps() * bound:
                continue  # the same contributions added in another order
            return i, message, L.ROBUST, "a second backward() does not add the same gradients to a leaf"
        return interior


def _without_consequences(graph: Graph, findings: list[Finding]) -> list[Finding]:
    """The findings that are no consequence of another: a finding at a node downstream of a node
    whose value is wrong (``local-value``) is what that wrong value did (log's wrong value fed
    pow a negative base), named in the wrong value's finding (``downstream``) instead."""
    wrong = {f.node: f for f in findings if f.kind == "local-value"}
    if not wrong or len(findings) == len(wrong) == 1:
        return findings
    root: dict[int, Finding] = {}  # node -> the wrong value upstream of it
    for i, node in enumerate(graph.nodes):
        for a in node.args:
            if isinstance(a, int) and (a in root or a in wrong):
                root[i] = root.get(a) or wrong[a]
                break
    kept = []
    for f in findings:
        cause = root.get(f.node)
        if cause is None:
            kept.append(f)
        elif f.op not in cause.downstream and f.op != cause.op:
            cause.downstream.append(f.op)
    return kept


def _ordinary(graph: Graph, judged: list[_Judged]) -> bool:
    """Whether the leaves and ops judged alone are ordinary (math, else robust): asked only for a finding's level."""
    return all(L.ordinary_number(n.value) for n in graph.nodes if n.op == "leaf") and all(
        L.ordinary_case(n.op, xs, n.params, *theirs, form=n.form) for n, xs, theirs in judged)


class _Replays:
    """The engine's local derivatives replayed along one graph, in floats (quick) and exact, each once when first asked."""

    def __init__(self, graph: Graph, local_derivs: dict[int, tuple[float, ...]]) -> None:
        self.graph = graph
        self.local_derivs = local_derivs
        self._floats: list = []
        self._exact: list = []

    def floats(self) -> tuple[list, list] | None:
        """The replay in floats: gradients and their scales, or None where it cannot run."""
        if not self._floats:
            self._floats.append(float_replay(self.graph, self.local_derivs))
        return self._floats[0]

    def exact(self) -> Replay | None:
        """The exact replay: gradients and their scales, or None where it cannot run."""
        if not self._exact:
            self._exact.append(replay(self.graph, self.local_derivs))
        return self._exact[0]

    def bounds(self) -> list | None:
        """The gradients' scales: the exact replay's when made, else the floats' (both kept)."""
        if not self._exact and self.floats() is not None:
            return self.floats()[1]  # type: ignore[index]
        return None if self.exact() is None else self.exact()[1]  # type: ignore[index]
