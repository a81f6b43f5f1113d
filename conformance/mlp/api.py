"""check_mlp and check_training: the learner's network and loop against torch, as a library.

>>> from vetgrad.conformance import check_mlp
>>> check_mlp("vetgrad.nn:MLP").failed
0
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from vetgrad.conformance.mlp import training as T  # noqa: N812
from vetgrad.conformance.mlp.findings import MlpReport, count, new_report
from vetgrad.conformance.mlp.layout import Shape
from vetgrad.conformance.mlp.learner import Loaded, load
from vetgrad.conformance.mlp.model_check import DEFAULT_SHAPES, LECTURE, check_model
from vetgrad.conformance.mlp.reproducer import attach

ShapeLike = Any  # Shape, or (nin, [nouts...])


def shapes_of(shapes: Iterable[ShapeLike] | None) -> list[Shape]:
    if shapes is None:
        return list(DEFAULT_SHAPES)
    out = []
    for s in shapes:
        if isinstance(s, Shape):
            out.append(s)
            continue
        nin, nouts = s
        if int(nin) < 1 or not list(nouts) or any(int(n) < 1 for n in nouts):
            raise ValueError(f"a shape is (nin, [nouts...]) of positive sizes, got {s!r}")
        out.append(Shape(int(nin), tuple(int(n) for n in nouts)))
    if not out:
        raise ValueError("no shape to check")
    return out


def check_mlp(model: str | type | Callable[..., Any], shapes: Sequence[ShapeLike] | None = None,
              *, seed: int = 0) -> MlpReport:
    """Build the learner's ``model`` (a class or ``module:MLP`` / ``path/to/mlp.py:MLP``) as
    ``model(nin, nouts)`` for each shape (default: the lecture's ``MLP(3, [4, 4, 1])``,
    ``MLP(2, [3, 1])`` and ``MLP(4, [5, 3, 2])``), match it to a torch float64 network with the
    same weights (layout of ``parameters()`` and activations, said in ``report.detected``), and
    compare the lecture's loss and every parameter's ``.grad`` after one ``backward()``. One
    "graph" per shape; ``report.failed`` counts the shapes that differ, each with one finding
    (the first difference) and its reproducer. A model that cannot be loaded raises
    ``vetgrad.conformance.mlp.learner.UsageError``."""
    loaded = load(model, "model")
    report = new_report(loaded.name, seed)
    for i, shape in enumerate(shapes_of(shapes)):
        mc = check_model(loaded, shape, seed + i)
        report.detected.append(mc.detected)
        if mc.found is not None:
            attach(mc.found, loaded, None)
        count(report, mc.checks, mc.found)
    return report


def check_training(model: str | type | Callable[..., Any], step: str | Callable[..., Any] | None = None,
                   steps: int = 5, *, shape: ShapeLike = LECTURE, seed: int = 0,
                   lr: float = T.DEFAULT_LR) -> MlpReport:
    """Run the learner's ``step(model, xs, ys)`` (forward, reset, backward, update; returns the
    loss; a function or a spec like ``model``) ``steps`` times on ``model(nin, nouts)`` (the
    lecture's network and samples by default), and torch's loop (zero_grad, backward,
    SGD(lr) with the lr read from the first step's update) on the same weights; compare the loss
    and every parameter after each step, naming what differs (gradients never reset, an update
    up the gradient, a learning rate that changes, a parameter never updated). Without ``step``
    the lecture's loop runs with the model's own ``zero_grad()`` and ``step(lr)`` (at ``lr``)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    loaded = load(model, "model")
    stepper: Loaded | None = load(step, "step") if step is not None else None
    (shaped,) = shapes_of([shape])
    report = new_report(loaded.name, seed)
    report.step = stepper.name if stepper else "the model's own zero_grad() and step(lr)"
    found, checks, curves = T.run(loaded, stepper, shaped, steps, seed, lr)
    report.training = curves
    if found is not None:
        attach(found, loaded, stepper)
    count(report, checks, found)
    return report


def trains_itself(model: Any) -> bool:
    """Whether the model class has its own ``zero_grad()`` and ``step(lr)`` (no step needed)."""
    return callable(getattr(model, "zero_grad", None)) and callable(getattr(model, "step", None))


def check_all(model: str | type | Callable[..., Any], step: str | Callable[..., Any] | None = None,
              *, shapes: Sequence[ShapeLike] | None = None, steps: int = 5, seed: int = 0,
              lr: float = T.DEFAULT_LR, train: bool | None = None) -> MlpReport:
    """check_mlp, then (with ``step``, or a model with its own zero_grad() and step(lr), or
    ``train``) check_training, in one report: a finding of the training run that check_mlp
    already made of the same model is said once."""
    report = check_mlp(model, shapes, seed=seed)
    loaded = load(model, "model")
    if train is None:
        train = step is not None or trains_itself(loaded.obj)
    if not train:
        return report
    trained = check_training(loaded.obj if not isinstance(model, str) else model, step, steps,
                             seed=seed, lr=lr)
    said = {f.message for f in report.findings}
    kept = [f for f in trained.findings if f.op == "training" or f.message not in said]
    if len(kept) < len(trained.findings):  # the same model's structural finding, said once
        report.training, report.step = trained.training, trained.step
        return report
    report.merge(trained)
    report.training, report.step = trained.training, trained.step
    return report
