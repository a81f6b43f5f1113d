"""The campaign driver: the engine started in its own process, the edge sweep, then graph after
graph of a seed, checked in batches; findings chosen, confirmed in a fresh process, shrunk and
given a reproducer."""

from __future__ import annotations

import dataclasses
import inspect
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
from vetgrad.conformance.run.config import Campaign
from vetgrad.conformance.run.confirm import choose_findings, finish, shrink_finding
from vetgrad.conformance.subject.adapters import (
    Adapter,
    NothingCheckedError,
    load_adapter,
    operand_forms,
)
from vetgrad.conformance.subject.address import spelling_of
from vetgrad.conformance.subject.execute import GRAPH_TIMEOUT, LocalEngine, hang_cap_reached
from vetgrad.conformance.subject.probe import nothing_to_check
from vetgrad.conformance.subject.session import ChildEngine, ProbeError
from vetgrad.conformance.subject.spec import engine_spec
from vetgrad.engine.ops import OPS

__all__ = ["Campaign", "check_something_offered", "no_graph_checked", "open_engine", "run_campaign",
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


def run_campaign(engine: str | type | Adapter | Campaign = "vetgrad.engine:Value", *,
                 monitor: Monitor | None = None, **settings: Any) -> Report:
    """Run one campaign and return its report: ``run_campaign(engine, graphs=..., seed=...)``
    with any setting of :class:`~vetgrad.conformance.run.config.Campaign` (where each is
    described), or ``run_campaign(campaign)`` (settings given beside it replace its own).

    ``monitor`` (e.g. conformance.reporting.progress.Progress) is told the counts after each
    batch, each finding as it is found, and the phase (checking, confirming). With ``edges`` (the
    default; shard 1 only) an exhaustive sweep comes first: every op in every operand form on
    every pair of its kink and edge values (``x ** 0`` at 0, ties, ±inf, nan), one graph per op
    and form, reported with graph index -1. After ``max_hangs`` hung graphs the campaign stops
    (``report.stopped`` says so). A SIGINT or SIGTERM (see conformance.interrupt) ends it early
    with ``interrupted`` set.

    NothingCheckedError (a usage error) when the probe leaves nothing to check: the engine's
    first leaf cannot be made, no op is offered, or an op named in ``ops`` is not offered."""
    if isinstance(engine, Campaign):
        campaign = engine.replace(**settings) if settings else engine
    else:
        campaign = Campaign(engine, **settings)
    wanted = [op.name for op in resolve_ops(campaign.ops)]
    session = open_engine(campaign.engine, campaign.graph_timeout, campaign.isolate,
                          campaign.memory_limit)
    try:
        try:
            forms = campaign.forms if campaign.forms is not None else session.forms()
        except ProbeError as exc:
            return _probe_failed(_shown_name(campaign.engine, session), campaign, wanted, exc)
        check_something_offered(session, forms, wanted, campaign.ops)
        return _campaign(session, campaign, forms, wanted, monitor or _Silent())
    finally:
        session.close()


run_campaign.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("engine", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                       default="vetgrad.engine:Value")]
    + [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
       for f in dataclasses.fields(Campaign) if f.name != "engine"]
    + [inspect.Parameter("monitor", inspect.Parameter.KEYWORD_ONLY, default=None)],
    return_annotation=Report)  # what help() and IDEs show: every setting, by name


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


def _campaign(session: Any, campaign: Campaign, forms: dict[str, tuple[str, ...]],
              wanted: list[str], monitor: Monitor) -> Report:
    """The campaign in its steps: the report begun, the graphs checked, the findings finished."""
    tested = [name for name in wanted if name in forms]
    report = _begin_report(session, campaign, forms, wanted, tested)
    faults = _engine_faults(session, report, campaign.device, monitor)
    checker = Checker(session, campaign.device, campaign.strict, campaign.higher_order,
                      session.timeout)
    report.precision = checker.precision
    _check_graphs(session, campaign, checker, report, tested, forms, monitor)
    localised = faults + accumulation.after_campaign(report, checker, forms, tested, campaign.device)
    _finish_findings(session, campaign, report, localised, monitor)
    report.interrupted = interrupt.requested()
    return report


def _begin_report(session: Any, campaign: Campaign, forms: dict[str, tuple[str, ...]],
                  wanted: list[str], tested: list[str]) -> Report:
    """The empty report: the ops tested, the forms the engine lacks, how it composes ops and
    spells them."""
    report = Report(_shown_name(campaign.engine, session), campaign.seed, campaign.strict,
                    [campaign.device], tested,
                    unsupported={name: [] for name in wanted if name not in forms})
    for name in tested:
        full = operand_forms(OPS[name])
        missing = [f for f in full if f not in forms[name]]
        if missing:
            report.unsupported[name] = missing
    load_torch()  # (and torch's objects frozen out of the GC's walks)
    report.composition = session.composition(forms) if hasattr(session, "composition") else {}
    report.spelled = spelling_of(getattr(session, "ref", None))
    return report


def _check_graphs(session: Any, campaign: Campaign, checker: Checker, report: Report,
                  tested: list[str], forms: dict[str, tuple[str, ...]], monitor: Monitor) -> None:
    """The edge sweep (shard 1, block 0), then the random graphs batch by batch, counted in
    ``report`` until the count, the time, a signal or the hang cap ends them."""
    start = time.perf_counter()
    session.max_hangs = campaign.max_hangs
    try:
        if campaign.edges and campaign.shard[0] == 1 and campaign.blocks[0] == 0:
            sweep = edge_graphs(tested, forms)
            for result in checker.check(sweep, [-1] * len(sweep)):
                _count(report, result, monitor)
        batches = _batches(session, campaign, tested, forms, start)
        for results in _pipelined(checker, batches, lambda: hang_cap_reached(session)):
            for result in results:
                _count(report, result, monitor)
            monitor.checked(report.random_graphs, report.failed, campaign.blocks[0])
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


def _batches(session: Any, campaign: Campaign, tested: list[str], forms: dict[str, tuple[str, ...]],
             start: float) -> Iterator[tuple[list[Graph], list[int]]]:
    """This share's batches of random graphs and their global indices (see Campaign: shard and
    blocks), until the count or the time is used up, a signal, or the hang cap."""
    graphs, seconds, batch = campaign.graphs, campaign.seconds, campaign.batch
    (k, n), (block, blocks) = campaign.shard, campaign.blocks
    i = b = 0
    while (graphs is None or i < graphs) and not interrupt.requested() \
            and not hang_cap_reached(session):
        if seconds is not None and time.perf_counter() - start > seconds:
            break
        count = batch if graphs is None else min(batch, graphs - i)
        if b % blocks == block:
            indices = [(k - 1) + (i + j) * n for j in range(count)]
            yield [campaign_graph(campaign.seed, x, campaign.max_nodes, tested, forms)
                   for x in indices], indices
        i, b = i + count, b + 1


def _finish_findings(session: Any, campaign: Campaign, report: Report, localised: list[Finding],
                     monitor: Monitor) -> None:
    """The findings chosen, confirmed in a fresh process, shrunk and each given a reproducer that
    was run (confirm.finish); the localised ones (already 2-4 nodes) first in root-cause order."""
    for f in localised:
        monitor.found(f)
    report.findings = choose_findings(report.findings,
                                      max(campaign.max_findings - len(localised), 0),
                                      campaign.level, report.composition)
    if report.findings and not interrupt.requested():
        many = "s" if len(report.findings) > 1 else ""
        monitor.set_phase(f"confirming{' and shrinking' if campaign.shrink else ''} "
                          f"{len(report.findings)} finding{many}")
    engine = campaign.engine
    finish(report.findings, session, engine, device=campaign.device, strict=campaign.strict,
           higher_order=campaign.higher_order, shrink=campaign.shrink, level=campaign.level)
    ref = getattr(session, "ref", None) or (engine if isinstance(engine, str) else session.name)
    for f in localised:  # confirmed by the probes' own runs; its graph is already 2-4 nodes
        f.reproducer = reproducer(f, ref, spellings_of(session, f.graph))
    report.findings[:0] = localised
    report.findings = root_cause_order(report.findings, report.composition)  # shrunk: sizes known


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


def _probe_failed(name: str, campaign: Campaign, wanted: list[str], exc: ProbeError) -> Report:
    """The report of an engine whose process was lost in the probe: one finding, in the op it
    was probing (nothing else could be tested)."""
    device = campaign.device
    report = Report(name, campaign.seed, campaign.strict, [device], wanted)
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
