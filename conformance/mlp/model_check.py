"""One model checked: built as ``MLP(nin, nouts)``, its ``parameters()`` read, its forward
matched to a torch network (layout and activations), the lecture's loss and one ``backward()``
in their engine, every ``.grad`` against torch's. The first difference is the finding."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from vetgrad.conformance.mlp import gradients as G  # noqa: N812
from vetgrad.conformance.mlp.findings import Detected, Example, MlpFinding, finding
from vetgrad.conformance.mlp.layout import Layout, Shape, detect, flatten, worst
from vetgrad.conformance.mlp.learner import LearnerError, Loaded, call, grad, number, seeded
from vetgrad.conformance.mlp.localise import count_message, forward_message, raise_message

LECTURE = Shape(3, (4, 4, 1))
LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [[1.0], [-1.0], [-1.0], [1.0]]
DEFAULT_SHAPES = (LECTURE, Shape(2, (3, 1)), Shape(4, (5, 3, 2)))
SAMPLES, PROBES = 4, 4  # samples in the loss; more inputs only to match the forward


@dataclass
class ModelCheck:
    """What one model's check saw, and the state a training check goes on from."""

    detected: Detected
    found: MlpFinding | None
    model: Any = None
    params: list[Any] = field(default_factory=list)
    layout: Layout | None = None
    example: Example | None = None
    checks: list[str] = field(default_factory=list)


def data(shape: Shape, seed: int) -> tuple[list[list[float]], list[list[float]], list[list[float]]]:
    """The loss's samples and targets (the lecture's for its shape), and extra probe inputs."""
    rng = random.Random(f"vetgrad-mlp-{seed}-{shape}")
    if shape == LECTURE:
        xs, ys = [list(x) for x in LECTURE_XS], [list(y) for y in LECTURE_YS]
    else:
        xs = [[rng.uniform(-2, 2) for _ in range(shape.nin)] for _ in range(SAMPLES)]
        ys = [[rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1) for _ in range(shape.nouts[-1])]
              for _ in range(SAMPLES)]
    probes = [[rng.uniform(-2, 2) for _ in range(shape.nin)] for _ in range(PROBES)]
    return xs, ys, probes


def targets(ys: Sequence[Sequence[float]], single: bool) -> list[Any]:
    """The targets as the learner's loop takes them: numbers for a one-output network."""
    return [y[0] for y in ys] if single else [list(y) for y in ys]


def read_output(out: Any, n: int) -> tuple[list[float], bool]:
    """The numbers of one forward output, and whether it came as a list where one Value is due."""
    if isinstance(out, (list, tuple)):
        return [number(v) for v in out], n == 1
    return [number(out)], False


def check_model(loaded: Loaded, shape: Shape, seed: int, through: str = "gradients") -> ModelCheck:
    """Build, read, match and (``through`` gradients) differentiate one model."""
    label = str(shape)
    det = Detected(label)
    xs, ys, probes = data(shape, seed)
    ex = Example(shape.nin, list(shape.nouts), [], xs, ys, seed=seed)
    mc = ModelCheck(det, None, example=ex)

    def fail(kind: str, check: str, text: str) -> ModelCheck:
        mc.checks.append(check)
        mc.found = finding(kind, check, text, label, ex)
        return mc

    mc.checks.append("build")
    try:
        with seeded(seed):
            model = call(label, loaded.obj, shape.nin, list(shape.nouts))
        params = list(call("model.parameters()", model.parameters))
    except LearnerError as exc:
        return fail("build", "build", str(exc))
    except TypeError as exc:
        return fail("build", "build", f"{label}: parameters() returns no list ({exc})")
    mc.model, mc.params = model, params
    try:
        flat = [number(p) for p in params]
    except TypeError as exc:
        return fail("parameters", "parameters", f"parameters() holds something that is no Value: {exc}")
    ex.weights = flat
    det.parameters = len(flat)
    mc.checks.append("parameters")
    if len(flat) != shape.numbers:
        return fail("parameters", "parameters", count_message(model, shape, params))

    raw, outputs, listed = [], [], False
    for x in [*xs, *probes]:
        try:
            out = call(f"model({x})", model, list(x))
        except LearnerError as exc:
            return fail("forward", "forward", raise_message(model, x, exc))
        try:
            nums, as_list = read_output(out, shape.nouts[-1])
        except TypeError as exc:
            return fail("output", "forward", f"model(x) returns {type(out).__name__}, not Values ({exc})")
        raw.append(out)
        outputs.append(nums)
        listed = listed or as_list
    layouts, diff = detect(shape, flat, [*xs, *probes], outputs)
    if not layouts:
        text, acts = forward_message(model, [*xs, *probes])
        if acts:
            layouts, diff = detect(shape, flat, [*xs, *probes], outputs, per_layer=acts)
            text = text or (f"every neuron is {', '.join(acts)} of its own w and b, but no order of "
                            f"parameters() we know maps them onto torch's layers")
        if not layouts:
            return fail("forward", "forward", text or (
                f"the forward matches no network we tried (parameters() per neuron or per layer, "
                f"tanh/relu/sigmoid/linear): the closest differs by {diff:.3g} relative"))
    mc.layout = layout = layouts[0]
    _detected(mc, layout, diff)
    mc.checks.append("forward")
    if through == "forward":  # (no backward(): a training check goes on from this model)
        return mc

    single = shape.nouts[-1] == 1
    mc.checks.append("loss")
    try:
        loss = call("the lecture's loss sum((yout - ygt)**2 ...)", G.lecture_loss, raw[:SAMPLES], ys, single)
        mine_loss = number(loss)
    except (LearnerError, TypeError) as exc:
        text = exc.text if isinstance(exc, LearnerError) else str(exc)
        if listed:
            return fail("output", "loss", (
                f"{label}(x) returns a list of one Value ({raw[0]!r}) for its one output, where "
                f"the loss (yout - ygt)**2 expects a Value: it raises {text}; the lecture's "
                f"Layer returns outs[0] if len(outs) == 1 else outs"))
        return fail("loss", "loss", f"the lecture's loss (yout - ygt)**2 raises {text}")
    grads_ref = []
    for candidate in layouts:
        ref_loss, rows, biases = candidate.net(shape, flat).grads(xs, ys)
        grads_ref.append((candidate, ref_loss, flatten(shape, candidate.order, rows, biases)))
    ref_loss = grads_ref[0][1]
    if worst([mine_loss], [ref_loss]) > 5e-7:
        return fail("loss", "loss", f"the loss is {mine_loss:.9g} where torch gives {ref_loss:.9g}")
    mc.checks.append("gradients")
    try:
        call("loss.backward()", loss.backward)  # type: ignore[attr-defined]
        mine = [grad(p) for p in params]
    except LearnerError as exc:
        return fail("gradients", "gradients", f"loss.backward() raises {exc.text} ({exc.where})")
    except TypeError as exc:
        return fail("gradients", "gradients", f"a parameter has no number in .grad ({exc})")
    # the forward could not tell these layouts apart: the first whose gradients agree is theirs
    agree = [g for g in grads_ref if worst(mine, g[2]) <= 5e-7]
    layout, _, ref = (agree or grads_ref)[0]
    mc.layout = layout
    _detected(mc, layout, diff)
    also = [g[0] for g in agree[1:] if g[0].order == layout.order]
    if also:
        det.layout = (f"{det.layout} ({', '.join(also[0].acts)} fits these inputs too: "
                      f"they cannot tell the two apart)")
    det.gradients = worst(mine, ref)
    text = G.message(shape, layout.order, mine, ref)
    if text:
        return fail("gradients", "gradients", text)
    return mc


def _detected(mc: ModelCheck, layout: Layout, diff: float) -> None:
    assert mc.example is not None
    mc.example.order, mc.example.acts = layout.order, list(layout.acts)
    mc.detected.layout, mc.detected.forward = layout.describe(), diff
