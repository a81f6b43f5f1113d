"""The MLP suite's nn training steps: vetgrad-step (nn.compile_step), vetgrad-numpy
(nn.batched_step) and the one-sample workload run in workers and match torch's step; the report's
two step targets and the batch column."""

from __future__ import annotations

from pathlib import Path

import pytest
from vetgrad.benchmarks import contenders, markdown, mlp, plot, runner

QUICK = runner.Budget(min_rounds=2, max_rounds=3, min_time=0.0)
STEPS = ("vetgrad-step", "vetgrad-numpy", "vetgrad-step-1", "vetgrad-numpy-1", "torch-vec-f64-1")


@pytest.mark.torch
@pytest.mark.slow
def test_the_step_contenders_train_in_workers_and_match_torch() -> None:
    pytest.importorskip("torch")
    rows = runner.mlp_suite([contenders.get(n) for n in STEPS], QUICK, lambda s: None)
    assert [(r.contender, r.status, r.batch) for r in rows] == [
        ("vetgrad-step", "ok", 32), ("vetgrad-numpy", "ok", 32), ("vetgrad-step-1", "ok", 1),
        ("vetgrad-numpy-1", "ok", 1), ("torch-vec-f64-1", "ok", 1)], [r.message for r in rows]
    assert all(r.step > 0 and r.rounds >= 2 for r in rows)


def test_one_sample_is_the_batch_first_sample() -> None:
    full, one = mlp.problem(batch=32), mlp.problem(batch=1)
    assert one.xs == full.xs[:1] and one.ys == full.ys[:1] and one.layers == full.layers


# (contender, its median, the other's) -> verdict: the ratio of the same run decides
TARGET_CASES = [
    pytest.param("vetgrad-numpy", "torch-vec-f64", 2.0, 1.0, "**met**", id="numpy-2x-met"),
    pytest.param("vetgrad-numpy", "torch-vec-f64", 3.0, 1.0, "**met**", id="numpy-3x-met"),
    pytest.param("vetgrad-numpy", "torch-vec-f64", 3.5, 1.0, "**missed**", id="numpy-3.5x-missed"),
    pytest.param("vetgrad-step-1", "torch-vec-f64-1", 0.9, 1.0, "**met**", id="step1-faster"),
    pytest.param("vetgrad-step-1", "torch-vec-f64-1", 1.0, 1.0, "**missed**", id="step1-equal"),
    pytest.param("vetgrad-step-1", "torch-vec-f64-1", 1.2, 1.0, "**missed**", id="step1-slower"),
]


@pytest.mark.parametrize("ours, theirs, t_ours, t_theirs, verdict", TARGET_CASES)
def test_step_targets(ours: str, theirs: str, t_ours: float, t_theirs: float,
                      verdict: str) -> None:
    rows = [runner.MlpResult(ours, "ok", step=t_ours), runner.MlpResult(theirs, "ok", step=t_theirs)]
    [line] = [x for x in markdown.targets(runner.Results(mlp=rows)) if f"{ours} " in x]
    assert line.endswith(f"| {verdict} |"), line


def test_step_targets_not_measured_without_both_rows() -> None:
    lines = markdown.targets(runner.Results(mlp=[runner.MlpResult("vetgrad-numpy", "ok", step=1.0)]))
    assert sum("MLP step," in x and "| not measured | n/a |" in x for x in lines) == 2


def test_the_mlp_table_shows_the_batch_and_no_ratio_across_batches() -> None:
    rows = [runner.MlpResult("vetgrad", "ok", "nn.MLP", step=0.02, rounds=3, mean=0.02),
            runner.MlpResult("vetgrad-step-1", "ok", "nn.MLP, nn.compile_step", step=1e-4,
                             rounds=9, mean=1e-4, batch=1)]
    table = [x for x in markdown.mlp_table(rows) if x.startswith("| vetgrad")]
    assert table == ["| vetgrad | nn.MLP | 32 | 20.00 | 20.00 | 3 | 1.00× |",
                     "| vetgrad-step-1 | nn.MLP, nn.compile_step | 1 | 0.100 | 0.100 | 9 | — |"]


@pytest.mark.slow
def test_the_plot_has_an_mlp_panel_one_line_per_contender_and_its_one_sample_twin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.axes

    drawn: list[tuple[str, list[float]]] = []
    real = matplotlib.axes.Axes.plot

    def spy(self: object, xs: list[float], ys: list[float], **kw: object) -> object:
        drawn.append((str(kw["label"]), list(xs)))
        return real(self, xs, ys, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    rows = [runner.MlpResult("vetgrad-step", "ok", step=1e-3),
            runner.MlpResult("vetgrad-step-1", "ok", step=1e-4, batch=1),
            runner.MlpResult("torch-vec-f64", "ok", step=3e-4),
            runner.MlpResult("micrograd", "absent")]
    out = plot.plot([], tmp_path / "p.png", rows)
    assert out.stat().st_size > 0
    assert drawn == [("vetgrad-step", [1, 32]), ("torch-vec-f64", [32])]
