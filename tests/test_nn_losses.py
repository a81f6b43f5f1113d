"""Losses: hand-computed values, stability at extreme logits, agreement with torch float64 in value
and gradient, and clear errors for bad input."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest
from vetgrad.engine import Value
from vetgrad.nn import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_regularization,
    log_softmax,
    logsumexp,
    mse_loss,
    softmax,
)


def values(xs: Any) -> Any:
    return [values(x) for x in xs] if isinstance(xs, list) else Value(xs)


def flat(xs: Any) -> list[Value]:
    return [v for x in xs for v in flat(x)] if isinstance(xs, list) else [xs]


# -- hand-computed ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn, inputs, targets, kwargs, loss, grads", [
    (mse_loss, [1.0, 2.0], [0.0, 0.0], {}, 2.5, [1.0, 2.0]),
    (mse_loss, [1.0, 2.0], [0.0, 0.0], {"reduction": "sum"}, 5.0, [2.0, 4.0]),
    (mse_loss, [[1.0, 2.0], [3.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]], {}, 13 / 4, [0.0, 1.0, 1.5, 0.0]),
    (hinge_loss, [0.5, -2.0], [1.0, 1.0], {}, 1.75, [-0.5, -0.5]),
    (hinge_loss, [0.5, -2.0], [1.0, -1.0], {"reduction": "sum"}, 0.5, [-1.0, 0.0]),
    (hinge_loss, [1.0], [1.0], {}, 0.0, [0.0]),  # exactly on the margin: relu'(0) = 0
    (hinge_loss, [0.5], [1.0], {"margin": 2.0}, 1.5, [-1.0]),
    (binary_cross_entropy_with_logits, [0.0, 0.0], [0.0, 1.0], {}, math.log(2), [0.25, -0.25]),
    (cross_entropy, [[0.0, 0.0, 0.0, 0.0]], [2], {}, math.log(4), [0.25, 0.25, -0.75, 0.25]),
    (cross_entropy, [1000.0, 0.0], 1, {}, 1000.0, [1.0, -1.0]),  # one row, stable at 1000
])
def test_hand_computed(fn: Callable[..., Value], inputs: list, targets: Any, kwargs: dict,
                       loss: float, grads: list[float]) -> None:
    xs = values(inputs)
    out = fn(xs, targets, **kwargs)
    out.backward()
    assert out.data == pytest.approx(loss, rel=1e-15, abs=1e-300)
    assert [v.grad for v in flat(xs)] == pytest.approx(grads, rel=1e-15, abs=1e-300)


def test_reduction_none_gives_the_terms() -> None:
    terms = mse_loss(values([1.0, -2.0]), [0.0, 0.0], reduction="none")
    assert [t.data for t in terms] == [1.0, 4.0]


def test_lecture_loss_equals_mse_sum() -> None:
    preds, ys = values([0.3, -0.8, 0.9]), [1.0, -1.0, 1.0]
    lecture = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, preds))
    assert mse_loss(preds, ys, reduction="sum").data == pytest.approx(lecture.data, rel=1e-15)


def test_softmax_helpers() -> None:
    logits = values([1.0, 2.0, 3.0])
    probs = [p.data for p in softmax(logits)]
    assert sum(probs) == pytest.approx(1.0, rel=1e-15)
    assert probs == pytest.approx([math.exp(z - 3) / sum(math.exp(w - 3) for w in (1, 2, 3))
                                   for z in (1, 2, 3)], rel=1e-14)
    assert logsumexp(values([-1000.0, -1000.0])).data == pytest.approx(-1000 + math.log(2),
                                                                     rel=1e-15)
    assert [v.data for v in log_softmax(values([0.0, 0.0]))] == [-math.log(2), -math.log(2)]


def test_l2_regularization() -> None:
    ps = values([1.0, -2.0, 3.0])
    reg = l2_regularization(ps, alpha=0.5)
    reg.backward()
    assert reg.data == 7.0
    assert [p.grad for p in ps] == [1.0, -2.0, 3.0]


# -- against torch ----------------------------------------------------------------------------
LOGITS = [-800.0, -30.0, -2.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 30.0, 800.0]


def _torch_cases() -> list:
    F = "torch.nn.functional"
    return [
        pytest.param(mse_loss, f"{F}.mse_loss(x, y)", [0.3, -1.2, 2.5], [0.0, 1.0, 2.0], {},
                     id="mse-mean"),
        pytest.param(mse_loss, f"{F}.mse_loss(x, y, reduction='sum')", [[0.3, -1.2], [2.5, 1.0]],
                     [[0.0, 1.0], [2.0, -3.0]], {"reduction": "sum"}, id="mse-sum-2d"),
        pytest.param(hinge_loss, "torch.relu(1 - y * x).mean()", [0.3, -1.2, 2.5, 1.0, -1.0],
                     [1.0, 1.0, -1.0, 1.0, -1.0], {}, id="hinge"),
        pytest.param(hinge_loss, "torch.relu(1 - y * x).sum()", [0.3, -1.2], [-1.0, 1.0],
                     {"reduction": "sum"}, id="hinge-sum"),
        *[pytest.param(binary_cross_entropy_with_logits,
                       f"{F}.binary_cross_entropy_with_logits(x, y)", LOGITS, [y] * len(LOGITS),
                       {}, id=f"bce-y{y}") for y in (0.0, 1.0, 0.25)],
        pytest.param(binary_cross_entropy_with_logits,
                     f"{F}.binary_cross_entropy_with_logits(x, y, reduction='sum')", LOGITS,
                     [1.0, 0.0] * 5, {"reduction": "sum"}, id="bce-sum"),
        pytest.param(cross_entropy, f"{F}.cross_entropy(x, y)",
                     [[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [-5.0, -5.0, -5.0],
                      [0.1, -0.2, 0.3]], [0, 2, 1, 2], {}, id="cross_entropy"),
        pytest.param(cross_entropy, f"{F}.cross_entropy(x, y, reduction='sum')",
                     [[700.0, 710.0], [-745.0, 3.0]], [0, 1], {"reduction": "sum"},
                     id="cross_entropy-sum-extreme"),
    ]


@pytest.mark.torch
@pytest.mark.parametrize("fn, torch_expr, inputs, targets, kwargs", _torch_cases())
def test_value_and_gradient_match_torch(fn: Callable[..., Value], torch_expr: str, inputs: list,
                                        targets: list, kwargs: dict) -> None:
    torch = pytest.importorskip("torch")
    xs = values(inputs)
    out = fn(xs, targets, **kwargs)
    out.backward()
    tx = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(targets, dtype=torch.long if fn is cross_entropy else torch.float64)
    tout = eval(torch_expr, {"torch": torch, "x": tx, "y": ty})
    tout.backward()
    assert math.isfinite(out.data)
    assert out.data == pytest.approx(tout.item(), rel=1e-14)
    # gradients are O(1); torch's sigmoid(x) - y loses relative accuracy when saturated
    assert [v.grad for v in flat(xs)] == pytest.approx(tx.grad.flatten().tolist(),
                                                       rel=1e-13, abs=1e-15)


@pytest.mark.torch
def test_l2_and_softmax_match_torch() -> None:
    torch = pytest.importorskip("torch")
    raw = [0.5, -1.5, 2.0, 1e-3]
    ps, tp = values(raw), torch.tensor(raw, dtype=torch.float64, requires_grad=True)
    reg = l2_regularization(ps, 1e-2) + softmax(ps)[1] + log_softmax(ps)[3]
    reg.backward()
    treg = 1e-2 * (tp * tp).sum() + torch.softmax(tp, 0)[1] + torch.log_softmax(tp, 0)[3]
    treg.backward()
    assert reg.data == pytest.approx(treg.item(), rel=1e-14)
    assert [p.grad for p in ps] == pytest.approx(tp.grad.tolist(), rel=1e-13)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, match", [
    (lambda: mse_loss(values([1.0, 2.0]), [1.0]), ValueError,
     "mse_loss: input has 2 elements but target has 1"),
    (lambda: mse_loss([], []), ValueError, "mse_loss: input is empty"),
    (lambda: mse_loss(values([1.0]), [1.0], reduction="avg"), ValueError,
     "reduction must be one of mean, sum, none"),
    (lambda: mse_loss(values([[1.0, 2.0]]), [[1.0]]), ValueError,
     r"input\[0\] has 2 elements but target\[0\] has 1"),
    (lambda: mse_loss(values([[1.0]]), [1.0]), ValueError, r"input\[0\] is a list but target"),
    (lambda: mse_loss(values([1.0]), ["a"]), TypeError, r"target\[0\] must be a real number"),
    (lambda: mse_loss("ab", [1.0, 2.0]), TypeError, "input must be a Value or a list"),
    (lambda: hinge_loss(values([1.0, 2.0]), [1.0]), ValueError, "hinge_loss: input has 2"),
    (lambda: binary_cross_entropy_with_logits(values([1.0]), [1.0, 0.0]), ValueError,
     "binary_cross_entropy_with_logits: input has 1 elements but target has 2"),
    (lambda: cross_entropy(values([[1.0, 2.0]]), [2]), ValueError,
     r"targets\[0\] = 2 is out of range for 2 classes"),
    (lambda: cross_entropy(values([[1.0, 2.0]]), [0.0]), TypeError,
     r"targets\[0\] must be an int class index"),
    (lambda: cross_entropy(values([[1.0, 2.0]]), [0, 1]), ValueError,
     "1 rows of logits but 2 targets"),
    (lambda: cross_entropy([[]], [0]), ValueError, r"logits\[0\] is empty"),
    (lambda: cross_entropy(values([1.0, 2.0]), [1]), TypeError,
     "one row of logits takes one int class index as its target, got list"),
    (lambda: mse_loss(values([1.0, 2.0]), 1.0), ValueError,
     "input is a list of 2 but target is one number"),
    (lambda: l2_regularization([]), ValueError, "l2_regularization got no parameters"),
    (lambda: l2_regularization([1.0]), TypeError, "parameter 0 is a float, not a Value"),
])
def test_bad_input_raises_clearly(call: Callable[[], Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.torch
@pytest.mark.parametrize("loss", ["mse_loss", "binary_cross_entropy_with_logits"])
def test_reduction_none_keeps_the_batch_shape_as_torch(loss: str) -> None:
    torch = pytest.importorskip("torch")
    from vetgrad import nn

    preds = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
    targets = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]]
    mine = getattr(nn, loss)(values(preds), targets, reduction="none")
    theirs = getattr(torch.nn.functional, loss)(torch.tensor(preds, dtype=torch.float64),
                                                 torch.tensor(targets, dtype=torch.float64),
                                                 reduction="none")
    got, want = [[v.data for v in row] for row in mine], theirs.tolist()
    assert [len(row) for row in got] == [len(row) for row in want]  # torch's shape (2, 3)
    assert [x for row in got for x in row] == pytest.approx([x for row in want for x in row], rel=1e-15)
