"""Worker processes of a campaign (``--workers N``): each checks its share of the batches and sends
its report back; a SIGINT or SIGTERM of the harness is passed on, and each worker ends with the
partial report of what it checked.

Where the platform has it, workers are forked from a fork server that has imported torch and the
harness once (:func:`prestart` starts it early, so that its import overlaps the harness's own);
elsewhere each worker is a fresh interpreter that imports them itself (``spawn``)."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import time
from typing import Any

from vetgrad.conformance import interrupt
from vetgrad.conformance.judging.results import Finding, Report
from vetgrad.conformance.reporting.progress import Monitor, finding_key
from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.run.config import Campaign


class _Relay:
    """A worker's monitor: counts, the first finding of each kind and phases, sent to the parent
    (which prints them with its own Progress)."""

    def __init__(self, results: Any) -> None:
        self.results = results
        self.seen: set[tuple[str, str, str]] = set()

    def checked(self, graphs: int, failed: int, worker: int = 0) -> None:
        self.results.put(("checked", (graphs, failed, worker)))

    def found(self, finding: Finding) -> None:
        key = finding_key(finding)
        if key not in self.seen:
            self.seen.add(key)
            self.results.put(("found", finding))

    def set_phase(self, phase: str) -> None:
        self.results.put(("phase", phase))


# What the fork server imports before it forks any worker: torch (~1.5 s of CPU) and the harness,
# once instead of once per worker (conformance.run.server_preload).
PRELOAD = ["vetgrad.conformance.run.server_preload"]


def _context() -> Any:
    """The fork server's context where the platform has one, else spawn's."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def prestart() -> None:
    """Start the fork server now (it imports :data:`PRELOAD` in its own process, while this one
    goes on), so that the workers of a later :func:`run_workers` start at once. Does nothing
    where there is no fork server, or when this process already runs one."""
    context = _context()
    if context.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    context.set_forkserver_preload(PRELOAD)  # (ignored by a server already running)
    forkserver.ensure_running()


def _setting() -> tuple[str, list[str], dict[str, str]]:
    """This process's folder, import path and environment, as a worker must see them: a fork
    server's child inherits the server's, from when it started."""
    return os.getcwd(), list(sys.path), dict(os.environ)


def _worker(campaign: Campaign, results: Any, setting: tuple[str, list[str], dict[str, str]]) -> None:
    """One worker process: its share of the campaign, the report (partial on a signal) sent back."""
    interrupt.install()
    folder, path, environ = setting
    os.chdir(folder)
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    try:
        import torch

        torch.set_num_threads(1)  # the workers are the parallelism: no oversubscribed cores
        results.put(("ok", run_campaign(campaign, monitor=_Relay(results))))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _start(context: Any, jobs: list[Campaign],
           setting: tuple[str, list[str], dict[str, str]]) -> tuple[Any, list[Any]]:
    """The workers' queue and processes, started from ``context``; none left running if one
    cannot start."""
    results = context.Queue()
    procs = [context.Process(target=_worker, args=(job, results, setting), daemon=True)
             for job in jobs]
    try:
        for proc in procs:
            proc.start()
    except BaseException:
        for proc in procs:
            if proc.pid is not None:
                proc.kill()
        raise
    return results, procs


def run_workers(jobs: list[Campaign], monitor: Monitor | None = None) -> list[Report]:
    """The campaigns ``jobs`` (a campaign's shares: conformance.run.orchestrate.shares) in worker
    processes; a signal here is passed on to them, and a second one (or a
    worker that does not answer within 30 s of it) ends them at once. ``monitor`` hears every
    worker's counts and findings as they come."""
    prestart()
    setting = _setting()
    try:
        results, procs = _start(_context(), jobs, setting)
    except (EOFError, OSError):  # the fork server died (its preload failed): fresh interpreters
        results, procs = _start(multiprocessing.get_context("spawn"), jobs, setting)
    reports: list[Report] = []
    told = 0.0
    try:
        while len(reports) < len(procs):
            if interrupt.requested() and not told:
                told = time.monotonic()
                for proc in procs:
                    if proc.is_alive():
                        os.kill(proc.pid, signal.SIGTERM)
            if told and (interrupt.count() > 1 or time.monotonic() - told > 30):
                break
            try:
                status, value = results.get(timeout=0.25)
            except queue.Empty:
                if all(not p.is_alive() for p in procs) and results.empty():
                    raise RuntimeError("a worker process died without a report") from None
                continue
            if status == "checked":
                if monitor is not None:
                    monitor.checked(*value)
                continue
            if status in ("found", "phase"):
                if monitor is not None:
                    (monitor.found if status == "found" else monitor.set_phase)(value)
                continue
            if status != "ok":
                raise RuntimeError(f"a worker failed: {value}")
            reports.append(value)
    finally:
        for proc in procs:
            proc.join(timeout=5.0 if not told else 1.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return reports
