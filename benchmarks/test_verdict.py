"""Time to verdict (group ``verdict``): the default campaign on learner-style engines, correct and
buggy, beside our own engine as the yardstick; the ratio to it and the first ``found`` line go
into ``extra_info``. Targets (issue 21): a lecture-style engine within 1.5× our engine's wall time,
the first ``found`` line within 1.5 s; read them off the saved JSON, never asserted on timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vetgrad.benchmarks import verdict

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def chosen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, verdict.Engine]:
    return {e.name: e for e in verdict.engines(Path(tmp_path_factory.mktemp("verdict")))}


@pytest.fixture(scope="module")
def yardstick(chosen: dict[str, verdict.Engine]) -> float:
    return verdict.time_verdict(verdict.YARDSTICK).wall


@pytest.mark.parametrize("name", ["vetgrad (yardstick)", "lecture, correct", "lecture, tanh '=' for '+='"])
def test_time_to_verdict(benchmark: Any, chosen: dict[str, verdict.Engine], yardstick: float,
                         name: str) -> None:
    benchmark.group = "verdict"
    engine = chosen[name]
    timing = benchmark.pedantic(verdict.time_verdict, args=(engine.spec,), rounds=2, iterations=1)
    assert timing.status == (1 if engine.buggy else 0)  # the verdict itself, checked after timing
    if engine.buggy:
        assert timing.first_found is not None
    benchmark.extra_info.update(ratio_to_vetgrad=timing.wall / yardstick,
                                first_found_s=timing.first_found, status=timing.status)
