"""An MLP check's findings and report, in the expression harness's types: a :class:`Report` with
``.failed`` and ``.findings`` (one "graph" per model built, and one per training run), each
finding an :class:`MlpFinding` whose message names the cause, with what a reproducer needs to
show it again (the model's shape, weights, inputs, layout, and for a training run its steps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vetgrad.conformance.dags.graph import Graph
from vetgrad.conformance.judging.results import Finding, GraphResult, OpStats, Report

MATH = "math"  # every finding of this check is a failure on ordinary inputs (docs/ladder.md)
CHECKS = ("build", "parameters", "forward", "loss", "gradients", "training")
NO_GRAPH = Graph(())  # the findings of an MLP check name no expression graph

# the cause of each kind of finding, the same words for every finding of it (the ladder's line)
CAUSES = {
    "build": "the model cannot be built",
    "parameters": "parameters() does not hold the model's numbers",
    "forward": "the forward differs from torch",
    "output": "the output is not what the loss takes",
    "loss": "the lecture's loss differs",
    "gradients": "a parameter's .grad differs from torch's",
    "no-reset": "gradients never reset",
    "uphill": "the update goes up the gradient",
    "lr-changes": "the learning rate changes",
    "not-updated": "a parameter is never updated",
    "no-update": "no parameter moves",
    "step": "a training step differs from torch's",
}


@dataclass
class Example:
    """What shows a finding again: ``MLP(nin, nouts)`` with these ``weights`` (parameters() in
    order, or per lecture attribute when parameters() cannot hold them), ``xs``, ``ys``, the
    layout found (None: none found), and for a training finding the steps run."""

    nin: int
    nouts: list[int]
    weights: list[float]
    xs: list[list[float]]
    ys: list[list[float]]
    order: str | None = None
    acts: list[str] | None = None
    steps: int = 0
    lr: float | None = None
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class MlpFinding(Finding):
    """A finding of check_mlp / check_training: ``op`` is the check (forward, gradients,
    training ...), ``node`` the training step (0 outside training)."""

    check: str = ""
    shape: str = ""
    example: Example | None = None

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out.update(check=self.check, shape=self.shape,
                   example=self.example.to_json() if self.example else None)
        return out


def finding(kind: str, check: str, message: str, shape: str, example: Example | None,
            step: int = 0) -> MlpFinding:
    return MlpFinding(kind=kind, op=check, node=step, message=message, graph=NO_GRAPH,
                      device="cpu", level=MATH, cause=CAUSES[kind], check=check, shape=shape,
                      example=example)


def count(report: Report, checks: list[str], found: MlpFinding | None) -> None:
    """One model (or training run) checked: each check it passed, or the one that failed
    (the checks after a failing one are not reached)."""
    for name in checks:
        st = report.per_op.setdefault(name, OpStats())
        st.cases += 1
        if found is not None and found.check == name:
            st.failed += 1
            break
        st.passed += 1
    report.add(GraphResult(index=report.graphs, findings=[found] if found else []), sweep=False)


@dataclass
class Detected:
    """What check_mlp saw of one model: its shape, the layout in words, the worst relative
    differences of forward and gradients from torch (None: not reached)."""

    shape: str
    layout: str | None = None
    forward: float | None = None
    gradients: float | None = None
    parameters: int = 0
    extra: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class MlpReport(Report):
    """check_engine's Report, plus what was detected of each model and the training run's
    curves (``training``: steps, lr, the learner's and torch's losses per step)."""

    detected: list[Detected] = field(default_factory=list)
    training: dict[str, Any] | None = None
    step: str | None = None


def new_report(model: str, seed: int) -> MlpReport:
    return MlpReport(engine=model, seed=seed, strict=False, devices=["cpu"], ops=list(CHECKS))
