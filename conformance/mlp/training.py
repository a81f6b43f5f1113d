"""The learner's training loop step by step against torch's: their ``step(model, xs, ys)`` run
``steps`` times, torch's ``zero_grad``/``backward``/``SGD(lr).step()`` from the same weights
(``lr`` read from their first update), the loss and every parameter compared after each step.
Where they part, the step's update is explained against torch's gradients at the learner's own
weights before it: the sum of every step's gradients (never reset), +lr (uphill), another lr, a
parameter left where it was."""

from __future__ import annotations

import math
from typing import Any, Sequence

from vetgrad.conformance.mlp import gradients as G  # noqa: N812
from vetgrad.conformance.mlp.findings import Example, MlpFinding, finding
from vetgrad.conformance.mlp.layout import REL, Layout, Shape, flatten, slot_name, slots, worst
from vetgrad.conformance.mlp.learner import LearnerError, Loaded, call, number
from vetgrad.conformance.mlp.model_check import check_model, targets

DEFAULT_LR = 0.05  # the lecture's loop with the model's own step(lr), when no step is given
FIT = 1e-6  # an update explained by a hypothesis: every parameter within this, relative


def default_step(lr: float) -> Any:
    """The lecture's loop body using the model's own ``zero_grad()`` and ``step(lr)`` (or each
    parameter's ``step(lr)``, where the engine updates and resets)."""

    def step(model: Any, xs: Any, ys: Any) -> Any:
        preds = [model(x) for x in xs]
        loss = G.lecture_loss(preds, [y if isinstance(y, list) else [y] for y in ys],
                              not isinstance(ys[0], list))
        model.zero_grad()
        loss.backward()  # type: ignore[attr-defined]
        if hasattr(model, "step"):
            model.step(lr)
        else:
            for p in model.parameters():
                p.step(lr)
        return loss

    return step


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b))


def fitted_lr(delta: Sequence[float], grads: Sequence[float]) -> float:
    """The lr of ``delta = -lr * grads`` (least squares over the parameters that moved)."""
    moved = [i for i, d in enumerate(delta) if d != 0.0] or list(range(len(delta)))
    d = [delta[i] for i in moved]
    g = [grads[i] for i in moved]
    gg = _dot(g, g)
    return -_dot(d, g) / gg if gg else 0.0


def explains(delta: Sequence[float], direction: Sequence[float], lr: float) -> bool:
    return worst(list(delta), [-lr * g for g in direction]) <= FIT


def run(loaded: Loaded, stepper: Loaded | None, shape: Shape, steps: int, seed: int, lr0: float
        ) -> tuple[MlpFinding | None, list[str], dict[str, Any]]:
    """(the first finding or None, the checks reached, the curves: steps, lr, losses)."""
    curves: dict[str, Any] = {"steps": steps, "lr": None, "losses": [], "torch_losses": [],
                              "shape": str(shape)}
    whole = check_model(loaded, shape, seed)  # forward and gradients first, on a model of its own
    checks = list(whole.checks)
    if whole.found is not None:
        return whole.found, checks, curves
    mc = check_model(loaded, shape, seed, through="forward")  # the same weights, no grad yet
    if mc.found is not None:  # (a model that differs from its twin: random weights not seeded)
        return mc.found, checks, curves
    mc.layout = whole.layout  # as the gradients told apart what the forward could not
    if stepper is None:  # the lecture's loop with the model's own methods
        if not hasattr(mc.model, "zero_grad") or not (
                hasattr(mc.model, "step") or all(hasattr(p, "step") for p in mc.params)):
            from vetgrad.conformance.mlp.learner import UsageError

            raise UsageError("no step given, and the model has no zero_grad() and step(lr) of "
                             "its own: give --step FILE.py:step (step(model, xs, ys) returns the loss)")
        fn = default_step(lr0)
    else:
        fn = stepper.obj
    assert mc.layout is not None and mc.example is not None
    layout, ex = mc.layout, mc.example
    model, params = mc.model, mc.params
    xs, ys = ex.xs, ex.ys
    theirs_ys = targets(ys, shape.nouts[-1] == 1)
    checks.append("training")
    label = str(shape)
    before = list(ex.weights)
    history = [before]
    grads_at: list[list[float]] = []
    losses: list[float | None] = []
    ref_losses: list[float] = []
    for k in range(1, steps + 1):
        try:
            out = call(f"step {k}: step(model, xs, ys)", fn, model, [list(x) for x in xs], theirs_ys)
        except LearnerError as exc:
            return _fail("step", f"step {k}: {exc}", label, ex, k, curves), checks, curves
        try:
            after = [number(p) for p in params]
        except TypeError as exc:
            return _fail("step", f"after step {k} a parameter holds no number ({exc})", label, ex, k,
                         curves), checks, curves
        loss_k = None
        if out is not None:
            try:
                loss_k = number(out)
            except TypeError:
                loss_k = None
        net = layout.net(shape, history[-1])
        ref_loss, rows, biases = net.grads(xs, ys)
        grads_at.append(flatten(shape, layout.order, rows, biases))
        losses.append(loss_k)
        ref_losses.append(ref_loss)
        history.append(after)
    curves["losses"] = losses
    delta1 = [a - b for a, b in zip(history[1], history[0])]
    lr = fitted_lr(delta1, grads_at[0])
    curves["lr"] = lr
    ex.steps, ex.lr = steps, lr
    ex.weights = before
    torch_losses, torch_after = layout.net(shape, before).train(xs, ys, abs(lr) or lr0, steps)
    curves["torch_losses"] = torch_losses
    order = layout.order
    for k in range(1, steps + 1):
        rows_k, biases_k = torch_after[k - 1]
        ref_after = flatten(shape, order, rows_k, biases_k)
        mine_loss = losses[k - 1]
        loss_ok = mine_loss is not None and worst([mine_loss], [torch_losses[k - 1]]) <= REL
        if loss_ok and worst(history[k], ref_after) <= FIT:
            continue
        text, kind = _diagnose(k, history, grads_at, lr, losses, ref_losses, torch_losses,
                               layout, shape)
        return _fail(kind, text, label, ex, k, curves), checks, curves
    return None, checks, curves


def _fail(kind: str, text: str, label: str, ex: Example, k: int, curves: dict[str, Any]) -> MlpFinding:
    ex.steps = max(ex.steps, k)
    return finding(kind, "training", text, label, ex, step=k)


def _neurons(where: Sequence[tuple[int, int, int]]) -> str:
    """``layer 2, neuron 0's 4 weights and bias; ...``: parameters grouped by neuron."""
    by: dict[tuple[int, int], list[int]] = {}
    for layer, j, k in where:
        by.setdefault((layer, j), []).append(k)
    parts = []
    for (layer, j), ks in list(by.items())[:3]:
        w = sum(1 for k in ks if k >= 0)
        what = [f"{w} weight{'s' if w != 1 else ''}"] if w else []
        what += ["bias"] if -1 in ks else []
        parts.append(f"layer {layer}, neuron {j}'s {' and '.join(what)}")
    more = f"; and {len(by) - 3} more neurons" if len(by) > 3 else ""
    return "; ".join(parts) + more


def _losses(values: Sequence[float | None]) -> str:
    return " → ".join("?" if v is None else f"{v:.4g}" for v in values)


def _diagnose(k: int, history: list[list[float]], grads_at: list[list[float]], lr: float,
              losses: list[float | None], ref_losses: list[float], torch_losses: list[float],
              layout: Layout, shape: Shape) -> tuple[str, str]:
    """Why step ``k`` parts from torch's: its update set against torch's gradients at the
    learner's own weights before each step."""
    where = slots(shape, layout.order)
    for j in range(1, k + 1):  # the first step whose own update is wrong explains the rest
        delta = [a - b for a, b in zip(history[j], history[j - 1])]
        g = grads_at[j - 1]
        mine = losses[j - 1]
        if mine is None:
            return (f"step {j} returns no loss (None or no number): step(model, xs, ys) must "
                    f"return the loss"), "step"
        if worst([mine], [ref_losses[j - 1]]) > REL:
            return (f"step {j} returns the loss {mine:.9g} where the model's loss before the update "
                    f"is {ref_losses[j - 1]:.9g} (return the loss the step's backward() ran on)"), "step"
        if all(d == 0.0 for d in delta):
            return (f"step {j}: no parameter moved (p.data += -lr * p.grad never changed a "
                    f"number)"), "no-update"
        if j == 1 and lr < 0 and explains(delta, g, lr):
            return (f"parameters moved with the gradient: the loss rises; the update needs -lr "
                    f"(p.data += -lr * p.grad): loss {_losses(losses)} where torch's "
                    f"SGD(lr={-lr:.4g}) gives {_losses(torch_losses)}"), "uphill"
        if explains(delta, g, lr):
            continue
        frozen = [i for i, (d, gi) in enumerate(zip(delta, g)) if d == 0.0 and gi != 0.0]
        moving = [i for i in range(len(delta)) if i not in frozen]
        if frozen and worst([delta[i] for i in moving], [-lr * g[i] for i in moving]) <= FIT:
            return (f"{len(frozen)} of {len(delta)} parameters are never updated in step {j} "
                    f"({_neurons([where[i] for i in frozen])}): the update must reach every "
                    f"parameter in model.parameters()"), "not-updated"
        if j > 1:
            summed = [math.fsum(gs[i] for gs in grads_at[:j]) for i in range(len(g))]
            if explains(delta, summed, lr):
                steps = " and ".join([", ".join(str(i) for i in range(1, j)), str(j)]) if j > 2 \
                    else "1 and 2"
                return (f"gradients never reset: after step {j} the update is the sum of steps "
                        f"{steps}'s gradients: reset p.grad to 0 before backward()"), "no-reset"
        lr_j = fitted_lr(delta, g)
        if abs(lr_j - lr) > FIT * abs(lr) and explains(delta, g, lr_j):
            return (f"the learning rate changes: {lr:.6g} in step 1, {lr_j:.6g} in step {j} "
                    f"(torch's SGD(lr) keeps one)"), "lr-changes"
        worst_i = max(range(len(delta)), key=lambda i: abs(delta[i] + lr * g[i]))
        return (f"step {j}: the update is not -lr * grad (lr {lr:.6g}): {slot_name(where[worst_i])} "
                f"moved by {delta[worst_i]:.6g} where -lr * grad is {-lr * g[worst_i]:.6g}"), "step"
    return (f"after step {k} the parameters differ from torch's SGD(lr={abs(lr):.4g}) by more "
            f"than rounding: loss {_losses(losses[:k])} where torch gives "
            f"{_losses(torch_losses[:k])}"), "step"
