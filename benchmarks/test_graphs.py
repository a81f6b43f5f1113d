"""Random DAGs (the harness's generator) and deep chains: forward + backward + free, timed in
every scalar contender; the root's value and d(root)/d(first leaf) checked after timing."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from vetgrad.benchmarks import workloads
from vetgrad.benchmarks.conftest import contender_params, size_params
from vetgrad.benchmarks.contenders import Contender


@pytest.mark.parametrize("nodes", size_params(workloads.DAG_SIZES, slow_from=100_000))
@pytest.mark.parametrize("contender", contender_params("dag"), indirect=True)
def test_dag(benchmark: Any, bench_graph: Callable, contender: Contender, nodes: int) -> None:
    benchmark.group = "dag"
    bench_graph(contender, workloads.dag(nodes))


@pytest.mark.parametrize("nodes", size_params(workloads.CHAIN_SIZES, slow_from=1_000_000))
@pytest.mark.parametrize("contender", contender_params("chain"), indirect=True)
def test_chain(benchmark: Any, bench_graph: Callable, contender: Contender, nodes: int) -> None:
    benchmark.group = "chain"
    bench_graph(contender, workloads.chain(nodes))
