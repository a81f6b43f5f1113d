"""A campaign across devices, worker processes or a Dask cluster: the shares, then one report."""

from __future__ import annotations

import argparse
import os
from typing import Any

from vetgrad.conformance import interrupt
from vetgrad.conformance.dags.generate import resolve_ops
from vetgrad.conformance.judging.results import Report
from vetgrad.conformance.reporting.progress import Progress
from vetgrad.conformance.run.config import Campaign
from vetgrad.conformance.subject.adapters import EngineLoadError, NothingCheckedError
from vetgrad.conformance.subject.session import ProbeError


def resolve_devices(choice: str) -> list[str]:
    """The torch devices of ``--device`` (``all``: cpu, and cuda when available);
    EngineLoadError for one that is not here, or for a missing GPU under REQUIRE_CUDA=1."""
    from vetgrad.conformance.reference.torch_run import available_devices

    have = available_devices()
    if choice == "all":
        if "cuda" not in have and os.environ.get("REQUIRE_CUDA") == "1":
            raise EngineLoadError("REQUIRE_CUDA=1 but torch.cuda.is_available() is False")
        return have
    if choice not in have:
        raise EngineLoadError(f"device {choice!r} is not available here (have: {', '.join(have)})")
    return [choice]


def campaign_of(args: argparse.Namespace) -> Campaign:
    """The campaign of the command line ``args`` (on its first device; the run replaces it)."""
    ops = resolve_ops(args.ops.split(",")) if args.ops else None
    graphs = args.graphs if args.graphs is not None else (None if args.time else 2000)
    return Campaign(args.engine, graphs=graphs, seconds=args.time, seed=args.seed,
                    max_nodes=args.max_nodes, ops=[op.name for op in ops] if ops else None,
                    strict=args.strict, level=args.level, shard=args.shard,
                    max_findings=args.max_findings, shrink=not args.no_shrink,
                    higher_order=args.higher_order, edges=not args.no_edge_sweep,
                    graph_timeout=args.graph_timeout, max_hangs=args.max_hangs,
                    memory_limit=memory_limit(args))


def run(args: argparse.Namespace, devices: list[str] | None = None,
        campaign: Campaign | None = None) -> tuple[Report, list[str]]:
    """The campaign of the command line ``args`` (``campaign``, when the caller built it) on
    ``devices`` (default: ``--device``'s), with progress on stderr; the combined report and the
    devices."""
    devices = devices or resolve_devices(args.device)
    campaign = campaign or campaign_of(args)
    forms = _probe(campaign) if args.workers > 1 else None
    workers = args.workers if forms is not None else 1
    combined: Report | None = None
    executor = None
    if args.cluster:
        from vetgrad.conformance.run.cluster import Cluster

        executor = Cluster(args.cluster)
        if args.workers == 1:  # one share per cluster worker
            workers = executor.size
            forms = _probe(campaign) if workers > 1 else None
    campaign = campaign.replace(forms=forms)
    progress = Progress(campaign.graphs, workers, level=args.level)
    try:
        with progress:
            for n, device in enumerate(devices):
                if interrupt.requested():
                    break
                if n:
                    progress.next_stage(f"checking on {device}")
                combined = _run_device(campaign.replace(device=device), workers, executor,
                                       combined, progress)
    finally:
        if executor is not None:
            executor.close()
    if combined is None:
        raise interrupt.Interrupted()
    from vetgrad.conformance.run.confirm import choose_findings

    combined.findings = choose_findings(combined.findings, args.max_findings, args.level,
                                        combined.composition)
    from vetgrad.conformance.run.campaign import no_graph_checked

    why = no_graph_checked(combined)
    if why:
        raise NothingCheckedError(why)
    return combined, devices


def shares(campaign: Campaign, workers: int) -> list[Campaign]:
    """The campaign in ``workers`` shares: share w checks batches w, w + workers, ... (each
    batch is the one a single process checks, so no count depends on --workers); the edge sweep
    is share 0's. No share without a batch."""
    jobs = [campaign.replace(blocks=(w, workers), edges=campaign.edges and w == 0)
            for w in range(workers)]
    if campaign.graphs is not None:
        jobs = jobs[: max(1, -(-campaign.graphs // campaign.batch))]
    return jobs


def _run_device(campaign: Campaign, workers: int, executor: Any, combined: Report | None,
                progress: Progress) -> Report | None:
    """The campaign on its device in ``workers`` shares (local processes or cluster workers),
    merged into ``combined``."""
    jobs = shares(campaign, workers)
    if executor is not None:
        from vetgrad.conformance.run.cluster import run_job
        from vetgrad.conformance.subject.spec import engine_spec

        spec = engine_spec(campaign.engine)  # what a worker elsewhere needs (a test mutant's source)
        jobs = [job.replace(engine=spec or campaign.engine) for job in jobs]

        def done(k: int, total: int, share: int, report: Report) -> None:
            for f in report.findings:
                progress.found(f)
            progress.checked(report.graphs, report.failed, worker=share)
            progress.set_phase(f"cluster: {k} of {total} shares back")

        reports = executor.run(run_job, jobs, done)
    elif len(jobs) == 1:
        from vetgrad.conformance.run.campaign import run_campaign

        reports = [run_campaign(jobs[0], monitor=progress)]
    else:
        from vetgrad.conformance.run.workers import run_workers

        reports = run_workers(jobs, progress)
    for r in reports:
        if combined is None:
            combined = r
            combined.devices = []
        else:
            combined.merge(r)
            combined.elapsed = max(combined.elapsed, r.elapsed)
    if combined is not None:
        combined.devices.append(campaign.device)
    return combined


def memory_limit(args: argparse.Namespace) -> int | None:
    """``--memory-limit`` in bytes (None: the default; 0: no cap)."""
    return None if args.memory_limit is None else int(args.memory_limit * 2**30)


def _probe(campaign: Campaign) -> dict[str, tuple[str, ...]] | None:
    """The probe, once for all workers (None: it failed; one process then reports how);
    NothingCheckedError when it leaves nothing of ``campaign.ops`` (None: every op) to check."""
    from vetgrad.conformance.run.campaign import check_something_offered, open_engine

    session = open_engine(campaign.engine, campaign.graph_timeout,
                          memory_limit=campaign.memory_limit)
    try:
        forms = session.forms()
        wanted = [op.name for op in resolve_ops(campaign.ops)]
        check_something_offered(session, forms, wanted, campaign.ops)
        return forms
    except ProbeError:
        return None
    finally:
        session.close()
