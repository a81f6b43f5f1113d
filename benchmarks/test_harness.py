"""The conformance harness itself: 30-node random graphs checked per second, against the torch
reference on CPU (and on CUDA when present)."""

from __future__ import annotations

from typing import Any

import pytest
from vetgrad.benchmarks import contenders, harness
from vetgrad.benchmarks.conftest import require

GRAPHS = 64


def _rows() -> list[Any]:
    return [pytest.param(row, id=f"{row.engine}-{row.device}",
                         marks=[pytest.mark.torch] + ([pytest.mark.cuda] if row.device == "cuda"
                                                      else []))
            for row in harness.ROWS]


@pytest.mark.parametrize("row", _rows())
def test_harness(benchmark: Any, row: harness.Row) -> None:
    benchmark.group = "harness"
    require(contenders.get(row.engine).missing(), cuda=False)
    if row.device == "cuda":
        require(contenders.get("torch-cuda-f64").missing(), cuda=True)
    report = benchmark.pedantic(harness.check_graphs, args=(row, GRAPHS), rounds=3,
                                iterations=1, warmup_rounds=1)
    harness.check_report(report, GRAPHS)
    benchmark.extra_info.update(graphs=GRAPHS, passed=report.passed, failed=report.failed,
                                graph_nodes=harness.GRAPH_NODES)
