"""The campaign driver: the engine started in its own process, the edge sweep, then graph after
graph of a seed, checked in batches; findings chosen, confirmed in a fresh process, shrunk and
given a reproducer."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Sequence

from vetgrad.conformance import interrupt
from vetgrad.conformance.dags.generate import resolve_ops
from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.judging import accumulation
from vetgrad.conformance.judging.checker import Checker
from vetgrad.conformance.judging.results import Finding, GraphResult, Report, root_cause_order
from vetgrad.conformance.reference.torch_run import load_torch
from vetgrad.conformance.reporting.progress import Monitor
from vetgrad.conformance.reporting.reproducer import reproducer, spellings_of
from vetgrad.conformance.run.campaign_graphs import campaign_graph, edge_graphs
from vetgrad.conformance.run.confirm import choose_findings, finish, shrink_finding
from vetgrad.conformance.subject.adapters import (
    Adapter,
    NothingCheckedError,
    load_adapter,
    operand_forms,
)
from vetgrad.conformance.subject.address import spelling_of
from vetgrad.conformance.subject.execute import (
    GRAPH_TIMEOUT,
    MAX_HANGS,
    LocalEngine,
    hang_cap_reached,
)
from vetgrad.conformance.subject.probe import nothing_to_check
from vetgrad.conformance.subject.session import ChildEngine, ProbeError
from vetgrad.conformance.subject.spec import engine_spec
from vetgrad.engine.ops import OPS

__all__ = ["check_something_offered", "no_graph_checked", "open_engine", "run_campaign",
           "shrink_finding"]


def open_engine(engine: str | type | Adapter, graph_timeout: float | None = GRAPH_TIMEOUT,
                isolate: bool = True, memory_limit: int | None = None) -> Any:
    """A session with the engine: in its own process (ChildEngine) unless ``isolate`` is False
    or the engine is an object another process cannot get (then LocalEngine, in this one).
    ``memory_limit``: bytes of data the engine's process may hold (None: half this machine's
    memory, at most 8 GiB; 0: no cap). EngineLoadError when the engine cannot be loaded."""
    spec = engine_spec(engine) if isolate else None
    if spec is None:
        return LocalEngine(load_adapter(engine), graph_timeout)
    session = ChildEngine(spec, graph_timeout, memory_limit)
    try:
        session.start()
    except BaseException:
        session.close()
        raise
    return session


def run_campaign(
    engine: str | type | Adapter = "vetgrad.engine:Value",
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
    monitor: Monitor | None = None,
    max_hangs: int = MAX_HANGS,
    memory_limit: int | None = None,
    level: str | None = None,
) -> Report:
    """Check ``graphs`` random graphs (or as many as fit in ``seconds``) of one engine on one
    device (``cpu`` or ``cuda``) and return the report. Graph ``i`` of shard ``K/N`` is global
    graph ``K-1 + i*N``, so shards never overlap and any machine reproduces any graph.
    ``blocks=(j, W)`` checks only batches j, j+W, ... of them (worker j of W: each batch is the
    same whatever W, so no count depends on the number of workers). ``forms``: the probe's
    answer, when the caller has it. After ``max_hangs`` graphs ran out of ``graph_timeout`` the
    campaign stops (``report.stopped`` says so; 0: never), since an engine that hangs on most
    graphs would otherwise cost a timeout per graph. ``memory_limit``: see :func:`open_engine`.
    ``monitor`` (e.g. conformance.reporting.progress.Progress) is told the counts after each batch, each
    finding as it is found, and the phase (checking, confirming). ``level``: the level of the
    ladder the report is judged at; only findings at it or below are confirmed and shrunk in
    full (up to ``max_findings``), one example per cause above it cheaply (None: up to
    ``max_findings`` of any level in full).

    With ``edges`` (the default; shard 1 only) an exhaustive sweep comes first: every op in every
    operand form on every pair of its kink and edge values (``x ** 0`` at 0, ties, ±inf, nan),
    one graph per op and form, reported with graph index -1. A SIGINT or SIGTERM (see
    conformance.interrupt) ends it early with ``interrupted`` set.

    NothingCheckedError (a usage error) when the probe leaves nothing to check: the engine's
    first leaf cannot be made, no op is offered, or an op named in ``ops`` is not offered."""
    if graphs is None and seconds is None:
        raise ValueError("give graphs or seconds (or both)")
    wanted = [op.name for op in resolve_ops(ops)]
    session = open_engine(engine, graph_timeout, isolate, memory_limit)
    try:
        try:
            forms = forms if forms is not None else session.forms()
        except ProbeError as exc:
            return _probe_failed(_shown_name(engine, session), seed, strict, device, wanted, exc)
        check_something_offered(session, forms, wanted, ops)
        return _campaign(session, engine, forms, wanted, graphs=graphs, seconds=seconds, seed=seed,
                         max_nodes=max_nodes, device=device, strict=strict, shard=shard,
                         batch=batch, progress=progress, max_findings=max_findings, shrink=shrink,
                         higher_order=higher_order, edges=edges, blocks=blocks,
                         monitor=monitor or _Silent(), max_hangs=max_hangs, level=level)
    finally:
        session.close()


def _shown_name(engine: Any, session: Any) -> str:
    """The engine's name in the report: as the user gave it (``./engine.py:Value``), not the
    module name it was loaded under."""
    return engine if isinstance(engine, str) else session.name


def check_something_offered(session: Any, forms: dict[str, tuple[str, ...]], wanted: list[str],
                            ops: Sequence[str] | None) -> None:
    """NothingCheckedError when a campaign over ``wanted`` would check nothing that was asked
    (see conformance.subject.probe.nothing_to_check); the probe's decisions say why."""
    lacking = [name for name in wanted if name not in forms]
    if not lacking:
        return
    log = session.probe_log() if hasattr(session, "probe_log") else []
    why = nothing_to_check(wanted, forms, wanted if ops is not None else None, log)
    if why:
        raise NothingCheckedError(why)


def no_graph_checked(report: Report) -> str | None:
    """Why a finished campaign is no verdict (None: it is one): no random graph was checked and
    nothing was found (a campaign stopped by a signal is reported as interrupted instead)."""
    if report.random_graphs or report.findings or report.interrupted:
        return None
    return (f"no random graph was checked ({report.graphs} graphs in {report.elapsed:.1f} s, "
            f"ops {', '.join(report.ops) or 'none'}): nothing checked is no pass (give more "
            f"--graphs or --time)")


def _campaign(session: Any, engine: Any, forms: dict[str, tuple[str, ...]], wanted: list[str], *,
              graphs: int | None, seconds: float | None, seed: int, max_nodes: int, device: str,
              strict: bool, shard: tuple[int, int], batch: int, progress: Any, max_findings: int,
              shrink: bool, higher_order: int, edges: bool, blocks: tuple[int, int],
              monitor: Monitor, max_hangs: int, level: str | None = None) -> Report:
    tested = [name for name in wanted if name in forms]
    report = Report(_shown_name(engine, session), seed, strict, [device], tested,
                    unsupported={name: [] for name in wanted if name not in forms})
    for name in tested:
        full = operand_forms(OPS[name])
        missing = [f for f in full if f not in forms[name]]
        if missing:
            report.unsupported[name] = missing
    load_torch()  # (and torch's objects frozen out of the GC's walks)
    report.composition = session.composition(forms) if hasattr(session, "composition") else {}
    report.spelled = spelling_of(getattr(session, "ref", None))
    faults = _engine_faults(session, report, device, monitor)
    checker = Checker(session, device, strict, higher_order, session.timeout)
    report.precision = checker.precision
    k, n = shard
    start = time.perf_counter()
    session.max_hangs = max_hangs
    try:
        if edges and k == 1 and blocks[0] == 0:
            sweep = edge_graphs(tested, forms)
            for result in checker.check(sweep, [-1] * len(sweep)):
                _count(report, result, monitor)

        def batches() -> Iterator[tuple[list[Graph], list[int]]]:
            i = b = 0
            while (graphs is None or i < graphs) and not interrupt.requested() \
                    and not hang_cap_reached(session):
                if seconds is not None and time.perf_counter() - start > seconds:
                    break
                count = batch if graphs is None else min(batch, graphs - i)
                if b % blocks[1] == blocks[0]:
                    indices = [(k - 1) + (i + j) * n for j in range(count)]
                    yield [campaign_graph(seed, x, max_nodes, tested, forms) for x in indices], indices
                i, b = i + count, b + 1

        for results in _pipelined(checker, batches(), lambda: hang_cap_reached(session)):
            for result in results:
                _count(report, result, monitor)
            monitor.checked(report.random_graphs, report.failed, blocks[0])
            if progress is not None:
                progress(report)
    except interrupt.Interrupted:
        pass
    if hang_cap_reached(session):
        report.stopped = (f"stopped after {session.hangs} graphs hung (no answer within "
                          f"{session.timeout:g} s): the rest would cost a timeout each "
                          f"(--max-hangs 0 checks them all)")
        monitor.set_phase(report.stopped)
    session.max_hangs = 0  # confirmation and shrinking have their own budget (HangBudget)
    report.interrupted = interrupt.requested()
    report.elapsed = time.perf_counter() - start
    localised = faults + accumulation.after_campaign(report, checker, forms, tested, device)
    for f in localised:
        monitor.found(f)
    report.findings = choose_findings(report.findings, max(max_findings - len(localised), 0), level,
                                      report.composition)
    if report.findings and not interrupt.requested():
        monitor.set_phase(f"confirming{' and shrinking' if shrink else ''} "
                          f"{len(report.findings)} finding{'s' if len(report.findings) > 1 else ''}")
    # confirmed in a fresh process, shrunk, each given a reproducer that was run (confirm.finish)
    finish(report.findings, session, engine, device=device, strict=strict,
           higher_order=higher_order, shrink=shrink, level=level)
    ref = getattr(session, "ref", None) or (engine if isinstance(engine, str) else session.name)
    for f in localised:  # confirmed by the probes' own runs; its graph is already 2-4 nodes
        f.reproducer = reproducer(f, ref, spellings_of(session, f.graph))
    report.findings[:0] = localised
    report.findings = root_cause_order(report.findings, report.composition)  # shrunk: sizes known
    report.interrupted = interrupt.requested()
    return report


def _engine_faults(session: Any, report: Report, device: str, monitor: Monitor) -> list[Finding]:
    """Findings of the engine as a whole (conformance.subject.sanity: a new Value's .grad not 0, a
    backward() that does not seed its output), each counted as a failing graph of the edge sweep
    on ``x * 1.0`` (its reproducer's graph) and kept apart from the findings to confirm."""
    faults = session.sanity() if hasattr(session, "sanity") else []
    found = []
    for cause, message in faults:
        graph = Graph((Node("leaf", value=0.5), Node("mul", (0, Const(1.0)))))
        f = Finding("engine", "graph", 0, message, graph, device, level="math", cause=cause)
        report.add(GraphResult(-1, f, findings=[f]))
        report.findings.remove(f)
        monitor.found(f)
        found.append(f)
    return found


def _pipelined(checker: Checker, batches: Iterator[tuple[list[Graph], list[int]]],
               stop: Callable[[], bool]) -> Iterator[list[GraphResult]]:
    """Each batch's results, the engine's process running batch b+1 while this one judges batch
    b, takes b+1's torch references and makes b+2 (the same results as checking them in turn).
    ``stop()`` true after a batch: the next one is not sent.
    The higher-order check asks the engine about the batch it judges, so it goes in turn."""
    if checker.higher_order:
        for chunk, indices in batches:
            yield checker.check(chunk, indices)
        return
    current = next(batches, None)
    if current is None:
        return
    checker.engine.submit(current[0])
    refs = checker.reference(current[0])
    while current is not None:
        upcoming = next(batches, None)
        runs = checker.engine.collect()
        if stop():
            upcoming = None
        if upcoming is not None:
            checker.engine.submit(upcoming[0])  # the engine starts on it at once
        results = checker.judge_runs(current[0], current[1], runs, refs)
        if upcoming is not None:
            refs = checker.reference(upcoming[0])
        current = upcoming
        yield results


class _Silent:
    """The monitor of a campaign nobody watches."""

    def checked(self, graphs: int, failed: int, worker: int = 0) -> None:
        pass

    def found(self, finding: Finding) -> None:
        pass

    def set_phase(self, phase: str) -> None:
        pass


def _count(report: Report, result: GraphResult, monitor: Monitor) -> None:
    report.add(result)
    for f in result.findings or ([result.finding] if result.finding else []):
        monitor.found(f)


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
