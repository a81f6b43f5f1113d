"""The campaign driver: the engine started in its own process, the edge sweep, then graph after
graph of a seed, checked in batches; findings chosen, confirmed in a fresh process, shrunk and
given a reproducer."""

from __future__ import annotations

import gc
import time
from typing import Any, Callable, Sequence

from conformance import interrupt
from conformance.adapters import Adapter, load_adapter, operand_forms
from conformance.campaign_graphs import campaign_graph, edge_graphs
from conformance.checker import Checker
from conformance.confirm import HangBudget, confirm, shrink_finding
from conformance.engine_run import GRAPH_TIMEOUT, LocalEngine
from conformance.engine_spec import engine_spec
from conformance.generate import resolve_ops
from conformance.graph import Const, Graph, Node
from conformance.isolation import ChildEngine, ProbeError
from conformance.report import Finding, GraphResult, Report, select_findings
from conformance.reproducer import reproducer, spellings_of
from conformance.torch_ref import load_torch
from engine.ops import OPS

__all__ = ["open_engine", "run_campaign", "shrink_finding"]
_frozen: list[bool] = []


def open_engine(engine: str | type | Adapter, graph_timeout: float | None = GRAPH_TIMEOUT,
                isolate: bool = True) -> Any:
    """A session with the engine: in its own process (ChildEngine) unless ``isolate`` is False
    or the engine is an object another process cannot get (then LocalEngine, in this one).
    EngineLoadError when the engine cannot be loaded."""
    spec = engine_spec(engine) if isolate else None
    if spec is None:
        return LocalEngine(load_adapter(engine), graph_timeout)
    session = ChildEngine(spec, graph_timeout)
    try:
        session.start()
    except BaseException:
        session.close()
        raise
    return session


def prepare_reference() -> None:
    """Import torch and freeze what exists then out of the cyclic GC's walks (once per process):
    a campaign spent ~28% of its CPU in the collector walking torch's ~170k objects."""
    load_torch()
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen.append(True)


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
    isolate: bool = True,
    blocks: tuple[int, int] = (0, 1),
    forms: dict[str, tuple[str, ...]] | None = None,
) -> Report:
    """Check ``graphs`` random graphs (or as many as fit in ``seconds``) of one engine on one
    device (``cpu`` or ``cuda``) and return the report. Graph ``i`` of shard ``K/N`` is global
    graph ``K-1 + i*N``, so shards never overlap and any machine reproduces any graph.
    ``blocks=(j, W)`` checks only batches j, j+W, ... of them (worker j of W: each batch is the
    same whatever W, so no count depends on the number of workers). ``forms``: the probe's
    answer, when the caller has it.

    With ``edges`` (the default; shard 1 only) an exhaustive sweep comes first: every op in every
    operand form on every pair of its kink and edge values (``x ** 0`` at 0, ties, ±inf, nan),
    one graph per op and form, reported with graph index -1. A SIGINT or SIGTERM (see
    conformance.interrupt) ends it early with ``interrupted`` set."""
    if graphs is None and seconds is None:
        raise ValueError("give graphs or seconds (or both)")
    wanted = [op.name for op in resolve_ops(ops)]
    session = open_engine(engine, graph_timeout, isolate)
    try:
        try:
            forms = forms if forms is not None else session.forms()
        except ProbeError as exc:
            return _probe_failed(session.name, seed, strict, device, wanted, exc)
        return _campaign(session, engine, forms, wanted, graphs=graphs, seconds=seconds, seed=seed,
                         max_nodes=max_nodes, device=device, strict=strict, shard=shard,
                         batch=batch, progress=progress, max_findings=max_findings, shrink=shrink,
                         higher_order=higher_order, edges=edges, blocks=blocks)
    finally:
        session.close()


def _campaign(session: Any, engine: Any, forms: dict[str, tuple[str, ...]], wanted: list[str], *,
              graphs: int | None, seconds: float | None, seed: int, max_nodes: int, device: str,
              strict: bool, shard: tuple[int, int], batch: int, progress: Any, max_findings: int,
              shrink: bool, higher_order: int, edges: bool, blocks: tuple[int, int]) -> Report:
    tested = [name for name in wanted if name in forms]
    report = Report(session.name, seed, strict, [device], tested,
                    unsupported={name: [] for name in wanted if name not in forms})
    for name in tested:
        full = operand_forms(OPS[name])
        missing = [f for f in full if f not in forms[name]]
        if missing:
            report.unsupported[name] = missing
    if not tested:
        return report
    prepare_reference()
    checker = Checker(session, device, strict, higher_order, session.timeout)
    report.precision = checker.precision
    k, n = shard
    start = time.perf_counter()
    try:
        if edges and k == 1 and blocks[0] == 0:
            sweep = edge_graphs(tested, forms)
            for result in checker.check(sweep, [-1] * len(sweep)):
                report.add(result)
        i = b = 0
        while (graphs is None or i < graphs) and not interrupt.requested():
            if seconds is not None and time.perf_counter() - start > seconds:
                break
            count = batch if graphs is None else min(batch, graphs - i)
            if b % blocks[1] == blocks[0]:
                indices = [(k - 1) + (i + j) * n for j in range(count)]
                chunk = [campaign_graph(seed, index, max_nodes, tested, forms) for index in indices]
                for result in checker.check(chunk, indices):
                    report.add(result)
                if progress is not None:
                    progress(report)
            i, b = i + count, b + 1
    except interrupt.Interrupted:
        pass
    report.interrupted = interrupt.requested()
    report.elapsed = time.perf_counter() - start
    report.findings = select_findings(report.findings, max_findings)
    budget = HangBudget(session.timeout)
    ref = getattr(session, "ref", None) or (engine if isinstance(engine, str) else session.name)
    for f in report.findings:
        if interrupt.requested():
            break
        try:
            fresh = Checker(session.fresh(), device, strict, higher_order, session.timeout)
            if confirm(f, fresh, budget) and shrink and len(f.graph.nodes) <= 1000:
                shrink_finding(f, fresh, budget)  # a deep chain's failure is its depth: keep it whole
        except interrupt.Interrupted:
            break
        if f.kind not in ("nondeterministic", "stateful"):
            f.reproducer = reproducer(f, ref, spellings_of(session, f.graph))
    report.interrupted = interrupt.requested()
    return report


def _probe_failed(name: str, seed: int, strict: bool, device: str, wanted: list[str],
                  exc: ProbeError) -> Report:
    """The report of an engine whose process was lost in the probe: one finding, in the op it
    was probing (nothing else could be tested)."""
    report = Report(name, seed, strict, [device], wanted)
    op = OPS.get(exc.op)
    nodes = [Node("leaf", value=0.7)]
    if op is not None:
        args = (0,) if op.arity == 1 else (0, Const(1.3))
        nodes.append(Node(op.name, args, op.sweep_params[0]))  # type: ignore[index]
    graph = Graph(tuple(nodes))
    finding = Finding("crash", exc.op, graph.root, str(exc), graph, device)
    report.add(GraphResult(-1, finding))
    report.findings = [finding]
    return report
