"""One MLP(2, [16, 16, 1]) training step (batch 32, MSE, SGD) in every contender, from the same
weights (reset untimed before each round); loss and updated weights checked after timing."""

from __future__ import annotations

from typing import Any

import pytest
from vetgrad.benchmarks import mlp
from vetgrad.benchmarks.conftest import contender_params
from vetgrad.benchmarks.contenders import Contender


@pytest.mark.parametrize("contender", contender_params("mlp"), indirect=True)
def test_mlp_step(benchmark: Any, contender: Contender) -> None:
    benchmark.group = "mlp"
    trainer = mlp.trainer(contender)
    rounds = 5 if contender.family in ("vetgrad", "micrograd", "torch") else 50
    out = benchmark.pedantic(trainer.step, setup=trainer.reset, rounds=rounds, iterations=1,
                             warmup_rounds=1)
    mlp.check(trainer, out, contender.dtype, batch=mlp.batch_of(contender))
    benchmark.extra_info.update(model=mlp.describe(contender), batch=mlp.batch_of(contender))
