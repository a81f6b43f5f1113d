"""The campaign driver: the edge sweep, then graph after graph of a seed, checked in batches;
findings chosen, shrunk and given a reproducer."""

from __future__ import annotations

import time
from typing import Callable, Sequence

from conformance.adapters import Adapter, load_adapter, operand_forms
from conformance.campaign_graphs import campaign_graph, edge_graphs
from conformance.checker import Checker
from conformance.engine_run import GRAPH_TIMEOUT
from conformance.generate import resolve_ops
from conformance.graph import Graph
from conformance.report import Finding, Report, select_findings
from conformance.reproducer import reproducer
from conformance.shrink import shrink as shrink_graph
from conformance.torch_ref import run_graph
from engine.ops import OPS


def run_campaign(
    engine: str | type | Adapter = "engine:Value",
    *,
    graphs: int | None = 1000,
    seconds: float | None = None,
    seed: int = 0,
    max_nodes: int = 30,
    ops: Sequence[str] | None = None,
    device: str = "cpu",
    strict: bool = False,
    shard: tuple[int, int] = (1, 1),
    batch: int = 256,
    progress: Callable[[Report], None] | None = None,
    max_findings: int = 20,
    shrink: bool = True,
    higher_order: int = 0,
    edges: bool = True,
    graph_timeout: float | None = GRAPH_TIMEOUT,
) -> Report:
    """Check ``graphs`` random graphs (or as many as fit in ``seconds``) of one engine on one
    device (``cpu`` or ``cuda``) and return the report. Graph ``i`` of shard ``K/N`` is global
    graph ``K-1 + i*N``, so shards never overlap and any machine reproduces any graph.

    With ``edges`` (the default; shard 1 only) an exhaustive sweep comes first: every op in every
    operand form on every pair of its kink and edge values (``x ** 0`` at 0, ties, ±inf, nan),
    one graph per op and form, reported with graph index -1."""
    if graphs is None and seconds is None:
        raise ValueError("give graphs or seconds (or both)")
    adapter = load_adapter(engine)
    wanted = [op.name for op in resolve_ops(ops)]
    forms = adapter.forms()
    tested = [name for name in wanted if name in forms]
    report = Report(adapter.name, seed, strict, [device], tested,
                    unsupported={name: [] for name in wanted if name not in forms})
    for name in tested:
        full = operand_forms(OPS[name])
        missing = [f for f in full if f not in forms[name]]
        if missing:
            report.unsupported[name] = missing
    if not tested:
        return report
    checker = Checker(adapter, device, strict, higher_order, graph_timeout)
    report.precision = checker.precision
    k, n = shard
    start = time.perf_counter()
    if edges and k == 1:
        sweep = edge_graphs(tested, forms)
        for result in checker.check(sweep, [-1] * len(sweep)):
            report.add(result)
    i = 0
    while graphs is None or i < graphs:
        if seconds is not None and time.perf_counter() - start > seconds:
            break
        count = batch if graphs is None else min(batch, graphs - i)
        indices = [(k - 1) + (i + j) * n for j in range(count)]
        chunk = [campaign_graph(seed, index, max_nodes, tested, forms) for index in indices]
        for result in checker.check(chunk, indices):
            report.add(result)
        i += count
        if progress is not None:
            progress(report)
    report.elapsed = time.perf_counter() - start
    report.findings = select_findings(report.findings, max_findings)
    if shrink:
        for f in report.findings:
            if len(f.graph.nodes) <= 1000:  # a deep chain's failure is its depth: keep it whole
                shrink_finding(f, checker)
            f.reproducer = reproducer(f, engine if isinstance(engine, str) else adapter.name)
    return report


def shrink_finding(finding: Finding, checker: Checker) -> None:
    """Shrink the finding's graph to a smaller one that fails the same way (the same kind of
    finding in the same op at the same level, first at that level in its graph), and take the
    smaller graph's message."""

    def first_finding(graph: Graph) -> Finding | None:
        (result,) = checker.check([graph], [0])
        return result.like(finding.kind, finding.op, finding.level)

    graph = shrink_graph(finding.graph, lambda g: first_finding(g) is not None,
                         values=lambda g: run_graph(g, checker.device).values)
    if graph is not finding.graph:
        same = first_finding(graph)
        if same is not None:
            finding.message, finding.node = same.message, same.node
        finding.graph = Graph(graph.nodes, finding.graph.seed)
