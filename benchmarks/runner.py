"""Run the suites for the report and collect plain results.

Every contender of a suite runs the same workload. The graph and MLP suites run each contender in
its own worker process with rounds interleaved (see :mod:`benchmarks.worker`); the harness suite
runs in this process, one engine after the other, with garbage collected outside the clock in
between. A contender that is not installed (or has no CUDA device) becomes an
``absent`` row, one that raises a ``failed`` row (micrograd's RecursionError on deep graphs), one
whose numbers disagree with the reference a ``wrong`` row (the report then exits 1).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from vetgrad.benchmarks import contenders, harness, mlp, timing, workloads
from vetgrad.benchmarks.contenders import Contender
from vetgrad.benchmarks.memory import Memory, measure_isolated
from vetgrad.benchmarks.worker import RowError, Worker, error_text, save_workloads

Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """How long to time each measurement."""

    min_rounds: int = 3
    max_rounds: int = 200
    min_time: float = 0.3


@dataclass(frozen=True)
class GraphResult:
    """Medians in seconds per graph (divide by ``nodes`` for per node)."""

    kind: str
    size: int  # the size asked for
    contender: str
    status: str  # ok, absent, failed, wrong
    nodes: int = 0
    message: str = ""
    forward: float = 0.0
    backward: float = 0.0
    free: float = 0.0
    total: float = 0.0
    total_gc_off: float | None = None
    rounds: int = 0


@dataclass(frozen=True)
class MlpResult:
    contender: str
    status: str
    model: str = ""
    message: str = ""
    step: float = 0.0  # seconds, median
    rounds: int = 0
    mean: float = 0.0  # seconds: the collector's pauses show here, not in the median
    batch: int = mlp.BATCH  # samples per step


@dataclass(frozen=True)
class HarnessResult:
    row: str
    status: str
    message: str = ""
    graphs: int = 0
    passed: int = 0
    failed: int = 0
    seconds: float = 0.0  # median per round, the whole run_campaign call
    checking: float = 0.0  # median per round of the campaign's own clock (graphs checked)

    @property
    def per_second(self) -> float:
        """Graphs checked per second once the engine's process is up and probed."""
        seconds = self.checking or self.seconds
        return self.graphs / seconds if seconds else 0.0

    @property
    def start(self) -> float:
        """Seconds a campaign spends before its first graph (engine process, probe, torch)."""
        return max(self.seconds - self.checking, 0.0) if self.checking else 0.0


@dataclass
class Results:
    graphs: list[GraphResult] = field(default_factory=list)
    mlp: list[MlpResult] = field(default_factory=list)
    harness: list[HarnessResult] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    compiled_memory: dict[str, float] | None = None  # benchmarks.compiled.memory_per_node
    reused: float | None = None  # share of DAG nodes used more than once (largest DAG run)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each suite

    @property
    def wrong(self) -> bool:
        return any(r.status == "wrong" for r in (*self.graphs, *self.mlp, *self.harness))


def graph_suite(kind: str, sizes: Sequence[int], chosen: Sequence[Contender], budget: Budget,
                progress: Progress, seed: int = 0, gc_off: bool = True,
                threads: int = 1) -> list[GraphResult]:
    """Time every contender on the ``kind`` workload ("dag" or "chain") of each size, each in its
    own worker process (:mod:`benchmarks.worker`), rounds interleaved across contenders; with
    ``gc_off``, time the Python engines (not torch) a second time with the collector off."""
    works = {size: workloads.workload(kind, size, seed) for size in sizes}
    out: list[GraphResult] = []
    workers: dict[str, Worker] = {}
    with tempfile.TemporaryDirectory(prefix="vetgrad-bench-") as tmp:
        saved = Path(tmp) / f"{kind}.pickle"
        save_workloads(works, saved)
        try:
            for c in chosen:
                if not c.missing():
                    workers[c.name] = Worker(c.name, threads, saved, c.engine)
            out = _graph_rows(kind, works, chosen, workers, budget, progress, gc_off)
        finally:
            for w in workers.values():
                w.close()
    return out


def _graph_rows(kind: str, works: dict[int, workloads.Workload], chosen: Sequence[Contender],
                workers: dict[str, Worker], budget: Budget, progress: Progress,
                gc_off: bool) -> list[GraphResult]:
    """The rows of every size, contender by contender, in table order."""
    out: list[GraphResult] = []
    by_name = {c.name: c for c in chosen}
    for size, work in works.items():
        progress(f"{kind} {size:,}: {', '.join(workers)}")
        here = {n: w for n, w in workers.items() if not by_name[n].skipped(work.nodes)}
        on = _graph_rounds(here, size, budget, gc_enabled=True)
        python = {n: w for n, w in here.items()
                  if isinstance(on[n], list) and not by_name[n].family.startswith("torch")}
        off = _graph_rounds(python, size, budget, gc_enabled=False) if gc_off else {}
        out += [_graph_result(kind, size, work, c, on.get(c.name), off.get(c.name))
                for c in chosen]
    return out


BATCH_SECONDS = 0.02  # rounds asked of one worker at a time: long enough to hide the pipe


def _graph_rounds(workers: dict[str, Worker], size: int, budget: Budget,
                  gc_enabled: bool) -> dict[str, list[workloads.Sample] | str]:
    """Timed rounds of the ``size`` graph in every worker; a failure is kept as its message."""
    for w in workers.values():
        with contextlib.suppress(RuntimeError):  # a broken worker: the next request reports it
            w.settle()
    got = _interleaved({n: (lambda k, w=w: w.rounds(size, k, gc_enabled)) for n, w in workers.items()},
                       lambda s: s.total, budget)
    return {n: str(x) if isinstance(x, Exception) else x for n, x in got.items()}


def _interleaved(ask: dict[str, Callable[[int], list[T]]], seconds: Callable[[T], float],
                 budget: Budget) -> dict[str, list[T] | RuntimeError]:
    """Timed rounds of every contender, ``ask[name](k)`` giving k more, asked for in turn so that
    machine noise hits all alike; a failure is kept as its exception. One warm-up round each (kept
    when it alone fills the time budget)."""
    got: dict[str, list[T] | RuntimeError] = {}
    per_round: dict[str, float] = {}
    for name, more in ask.items():
        try:
            warm = more(1)
        except RuntimeError as exc:
            got[name] = exc
            continue
        per_round[name] = max(seconds(warm[0]), 1e-6)
        got[name] = warm if seconds(warm[0]) >= budget.min_time else []
    active = list(per_round)
    while active:
        for name in list(active):
            samples = got[name]
            assert isinstance(samples, list)
            if timing.enough([seconds(s) for s in samples], min_rounds=budget.min_rounds,
                             max_rounds=budget.max_rounds, min_time=budget.min_time):
                active.remove(name)
                continue
            batch = max(1, min(budget.max_rounds - len(samples),
                               int(BATCH_SECONDS / per_round[name])))
            try:
                samples += ask[name](batch)
            except RuntimeError as exc:
                got[name] = exc
                active.remove(name)
    return got


def _graph_result(kind: str, size: int, work: workloads.Workload, c: Contender,
                  on: list[workloads.Sample] | str | None,
                  off: list[workloads.Sample] | str | None) -> GraphResult:
    if on is None:
        return GraphResult(kind, size, c.name, "absent", work.nodes,
                           c.missing() or c.skipped(work.nodes) or "absent")
    if isinstance(on, str):
        return GraphResult(kind, size, c.name, "failed", work.nodes, on)
    offs = off if isinstance(off, list) else []
    try:
        for s in on[-1:] + offs[-1:]:
            workloads.check(s, work, c.dtype)
    except AssertionError as exc:
        return GraphResult(kind, size, c.name, "wrong", work.nodes, str(exc))
    def med(xs: list[float]) -> float:  # per sample: a batched round computes c.rows
        return timing.median_of(xs) / c.rows

    return GraphResult(
        kind, size, c.name, "ok", work.nodes,
        forward=med([s.forward for s in on]), backward=med([s.backward for s in on]),
        free=med([s.free for s in on]), total=med([s.total for s in on]),
        total_gc_off=med([s.total for s in offs]) if offs else None, rounds=len(on))


def mlp_suite(chosen: Sequence[Contender], budget: Budget, progress: Progress,
              threads: int = 1) -> list[MlpResult]:
    """Time one training step of every contender (weights reset, untimed, before each), each in
    its own worker process, steps interleaved; check the last step's loss and weights here."""
    ready = [c for c in chosen if not c.missing()]
    progress(f"mlp: {', '.join(c.name for c in ready)}")
    last: dict[str, tuple[float, list[float]]] = {}

    def steps(w: Worker) -> Callable[[int], list[float]]:
        def more(k: int) -> list[float]:
            times, loss, params = w.mlp_steps(k)
            last[w.name] = (loss, params)
            return times
        return more

    workers = {c.name: Worker(c.name, threads, None) for c in ready}
    try:
        got = _interleaved({n: steps(w) for n, w in workers.items()}, float, budget)
    finally:
        for w in workers.values():
            w.close()
    return [_mlp_result(c, got.get(c.name), last.get(c.name),
                        mlp.reference(batch=mlp.batch_of(c))
                        if isinstance(got.get(c.name), list) else None) for c in chosen]


def _mlp_result(c: Contender, times: list[float] | RuntimeError | None,
                last: tuple[float, list[float]] | None, ref: mlp.Reference | None) -> MlpResult:
    if times is None:
        return MlpResult(c.name, "absent", message=c.missing() or "absent", batch=mlp.batch_of(c))
    if isinstance(times, RowError) and times.status == "absent":
        return MlpResult(c.name, "absent", message=str(times), batch=mlp.batch_of(c))
    if isinstance(times, RuntimeError):
        return MlpResult(c.name, "failed", mlp.describe(c), str(times), batch=mlp.batch_of(c))
    assert last is not None
    try:
        mlp.check_numbers(*last, c.dtype, ref)
    except AssertionError as exc:
        return MlpResult(c.name, "wrong", mlp.describe(c), str(exc), batch=mlp.batch_of(c))
    return MlpResult(c.name, "ok", mlp.describe(c), step=timing.median_of(times),
                     rounds=len(times), mean=sum(times) / len(times), batch=mlp.batch_of(c))


def harness_suite(engines: Sequence[str], graphs: int, budget: Budget,
                  progress: Progress) -> list[HarnessResult]:
    """Graphs checked per second for each engine in ``engines`` (vetgrad, micrograd), against
    the torch reference on CPU and, when present, on CUDA."""
    out: list[HarnessResult] = []
    for row in harness.ROWS:
        if row.engine not in engines:
            continue
        why = contenders.get(row.engine).missing()
        if not why and row.device == "cuda":
            why = contenders.get("torch-cuda-f64").missing()
        if why:
            out.append(HarnessResult(row.name, "absent", why))
            continue
        progress(f"harness: {row.name}")
        timing.settle()
        try:
            rounds = timing.repeat(lambda row=row: harness.check_graphs(row, graphs),
                                   min_rounds=budget.min_rounds, max_rounds=budget.max_rounds,
                                   min_time=budget.min_time)
            last = rounds.results[-1]
            harness.check_report(last, graphs)
        except AssertionError as exc:
            out.append(HarnessResult(row.name, "wrong", str(exc)))
            continue
        except Exception as exc:
            out.append(HarnessResult(row.name, "failed", error_text(exc)))
            continue
        out.append(HarnessResult(row.name, "ok", graphs=graphs, passed=last.passed,
                                 failed=last.failed, seconds=rounds.median,
                                 checking=timing.median_of([r.elapsed for r in rounds.results])))
    return out


def memory_suite(plan: Sequence[tuple[str, int]], progress: Progress) -> list[Memory]:
    """Bytes per node for each (contender, chain nodes), each in a fresh interpreter."""
    out: list[Memory] = []
    for name, nodes in plan:
        why = contenders.get(name).missing()
        if why:
            out.append(Memory(name, nodes, error=why))
            continue
        progress(f"memory: {name}, {nodes:,} nodes")
        out.append(measure_isolated(name, nodes))
    return out


def compiled_memory(nodes: int, progress: Progress) -> dict[str, float] | None:
    """Bytes per node a compiled DAG holds (and its tracing peak), in a fresh interpreter; None
    if that fails."""
    import json
    import subprocess
    import sys

    progress(f"memory: vetgrad-compiled, {nodes:,}-node DAG")
    done = subprocess.run([sys.executable, "-m", "vetgrad.benchmarks.compiled", str(nodes)],
                          capture_output=True, text=True, timeout=600, check=False)
    try:
        return json.loads(done.stdout)  # type: ignore[no-any-return]
    except ValueError:
        return None
