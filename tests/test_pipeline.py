"""The pipelined campaign (the engine's process runs batch b+1 while the harness judges batch b)
gives exactly what checking each batch in turn gives."""

from __future__ import annotations

import pytest
from vetgrad.conformance.run.campaign import run_campaign

from tests.engines.mutants import spec


def _summary(report) -> tuple:
    per_op = {name: (s.cases, s.passed, s.failed, s.imprecise) for name, s in report.per_op.items()}
    findings = [(f.kind, f.op, f.index, f.level, f.message) for f in report.findings]
    return report.graphs, report.passed, report.failed, report.imprecise_graphs, per_op, findings


@pytest.mark.parametrize("engine", ["vetgrad.engine:Value", spec("tanh_grad_1_minus_t"), spec("div_zero_raises")])
@pytest.mark.slow
def test_pipelined_equals_in_turn(engine: str) -> None:
    options = dict(graphs=600, seed=11, batch=128, shrink=False, edges=False)
    pipelined = run_campaign(engine, **options)  # its own process: batches overlap
    in_turn = run_campaign(engine, isolate=False, **options)  # this process: one after another
    assert _summary(pipelined) == _summary(in_turn)
    assert pipelined.graphs == 600
