"""pytest-benchmark set-up for ``pytest benchmarks -p no:xdist --benchmark-only``.

- ``--run-slow`` runs the largest sizes (marked ``slow``: DAGs of 100,000 nodes, chains of
  1,000,000); without it they are skipped, so the default run stays within a few minutes.
- ``--torch-threads N`` (default 1): every tensor here is tiny, and on a busy 2-core machine
  OpenMP hand-offs make a 2 µs float64 matmul take ~30 ms. 0 keeps torch's default.
- The ``contender`` fixture skips absent contenders with the reason (micrograd not installed, no
  CUDA device); ``REQUIRE_CUDA=1`` turns a missing GPU into a failure.
- Results are grouped by area and size (``dag 10,000 nodes``), and torch's version, the CUDA
  device and the CPU model go into the saved JSON's ``machine_info``.
"""

from __future__ import annotations

import gc
import os
import statistics
from typing import Any, Callable

import pytest
from vetgrad.benchmarks import contenders, machine, workloads
from vetgrad.benchmarks.contenders import Contender

MARKERS = {
    "cuda": "needs a CUDA device (skipped without one unless REQUIRE_CUDA=1)",
    "slow": "takes more than a few seconds",
    "torch": "compares against PyTorch",
}
# Timed rounds by graph size (plus one warm-up round): about a second or more of work each.
ROUNDS = {100: 100, 1_000: 30, 10_000: 5, 100_000: 3, 1_000_000: 3}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vetgrad benchmarks")
    group.addoption("--run-slow", action="store_true",
                    help="also run the largest sizes (marked slow)")
    group.addoption("--torch-threads", type=int, default=1, metavar="N",
                    help="torch.set_num_threads(N) for the benchmarks (default 1; 0: torch's)")


def pytest_configure(config: pytest.Config) -> None:
    known = {line.split(":")[0].strip() for line in config.getini("markers")}
    for name, text in MARKERS.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="largest size: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine.set_torch_threads(config.getoption("--torch-threads"))
    info = machine.info()
    info.pop("load_average", None)  # changes every run: would make every comparison warn
    machine_info.update(info)  # cpu_model, torch, torch_threads, cuda_device, micrograd, ...


def pytest_benchmark_group_stats(config: pytest.Config, benchmarks: list, group_by: str) -> Any:
    """With the default ``--benchmark-group-by=group``, split each area by graph size."""
    if group_by != "group":
        return None
    groups: dict[str, list] = {}
    for bench in benchmarks:
        nodes = (bench.get("params") or {}).get("nodes")
        key = bench["group"] + (f" {nodes:,} nodes" if nodes else "")
        groups.setdefault(key, []).append(bench)
    for benches in groups.values():
        benches.sort(key=lambda b: b["name"])
    return sorted(groups.items())


@pytest.fixture(scope="session", autouse=True)
def _torch_threads(pytestconfig: pytest.Config) -> None:
    machine.set_torch_threads(pytestconfig.getoption("--torch-threads"))


def contender_params(suite: str) -> list[Any]:
    """Parameters for ``@pytest.mark.parametrize("contender", ..., indirect=True)``."""
    out = []
    for c in contenders.for_suite(suite):
        marks = [pytest.mark.torch] if c.family.startswith("torch") else []
        if c.device == "cuda":
            marks.append(pytest.mark.cuda)
        out.append(pytest.param(c.name, id=c.name, marks=marks))
    return out


def size_params(sizes: tuple[int, ...], slow_from: int) -> list[Any]:
    """Graph sizes, the largest marked ``slow``."""
    return [pytest.param(n, id=f"{n}", marks=[pytest.mark.slow] if n >= slow_from else [])
            for n in sizes]


def require(why: str | None, cuda: bool) -> None:
    """Skip with ``why`` (fail instead for a missing GPU under REQUIRE_CUDA=1)."""
    if why is None:
        return
    if cuda and os.environ.get("REQUIRE_CUDA") == "1":
        pytest.fail(f"REQUIRE_CUDA=1 but {why}")
    pytest.skip(why)


@pytest.fixture
def contender(request: pytest.FixtureRequest) -> Contender:
    c = contenders.get(request.param)
    require(c.missing(), c.device == "cuda")
    return c


@pytest.fixture
def bench_graph(benchmark: Any) -> Callable[[Contender, workloads.Workload], None]:
    """Time forward + backward + free of a workload in one contender, then check the result.
    micrograd's RecursionError on deep graphs is reported as an expected failure (xfail)."""

    def run(c: Contender, work: workloads.Workload) -> None:
        samples: list[workloads.Sample] = []
        if c.compiled:  # a graph compiled once, outside the clock, and replayed in each round
            require(c.skipped(work.nodes), False)
            from vetgrad.benchmarks.compiled import Replayer

            one_round = Replayer(c.family, work).run
        else:
            leaf, sync, number = c.leaf(), c.sync(), c.number

            def one_round() -> workloads.Sample:
                return workloads.run(work, leaf, sync, number)

        def target() -> workloads.Sample:
            sample = one_round()
            samples.append(sample)
            return sample

        gc.collect()  # nothing of an earlier test is collected inside this one's clock
        try:
            with c.recursion_room(work.depth):
                result = benchmark.pedantic(target, rounds=ROUNDS[_size(work)], iterations=1,
                                            warmup_rounds=1)
        except RecursionError:
            pytest.xfail(f"{c.name}: RecursionError at graph depth {work.depth:,} "
                         "(micrograd's recursive topological sort)")
        finally:
            gc.collect()
        workloads.check(result, work, c.dtype)
        timed = samples[1:] or samples  # --benchmark-disable runs once, without warm-up
        per_node = {f"{phase}_us_per_node": statistics.median(getattr(s, phase) for s in timed)
                    / work.nodes / c.rows * 1e6 for phase in ("forward", "backward", "free", "total")}
        benchmark.extra_info.update(nodes=work.nodes, depth=work.depth, rows=c.rows, **per_node)

    return run


def _size(work: workloads.Workload) -> int:
    return min(ROUNDS, key=lambda n: abs(n - work.nodes))
