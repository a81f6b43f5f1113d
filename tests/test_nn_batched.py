"""nn.batched_step: against torch (nn.Linear + the same loss + torch.optim.SGD on the same
weights) and against the eager engine over several steps, torch's per-element rules at the
kinks, clear errors for what it does not support, and numpy as an optional dependency.

Tolerance: |ours - theirs| <= 1e-12 * max(1, |theirs|) per parameter and for the loss, after each
step. The three compute the same formulas but sum in different orders: BLAS's matrix products
(numpy's and torch's, each blocked and with fused multiply-adds in its own way) against the
engine's left-to-right folds, and numpy's pairwise sum of the loss terms against the engine's
chain of additions. A sum of n terms in another order differs by at most about n * 2**-53 times the
sum of the terms' magnitudes: here n <= 16 and the terms are of order 1, so a few 1e-16 per step
(measured: at most 2.4e-16 after 5 steps). The bound is far above that and far below any wrong
formula (a missing factor, a wrong sign, a transposed matrix: 1e-3 or more).
"""

from __future__ import annotations

import functools
import random
import subprocess
import sys
from typing import Any, Callable

import pytest
from vetgrad.nn import (
    MLP,
    SGD,
    Layer,
    LeakyReLU,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    batched_step,
    cross_entropy,
    hinge_loss,
    mse_loss,
    to_torch,
)

np = pytest.importorskip("numpy")
TOL = 1e-12
STEPS, BATCH, LR = 5, 16, 0.05

# model factory, loss, outputs per sample
CASES = [
    pytest.param(lambda: MLP(2, [16, 16, 1], "relu", "linear", seed=0), mse_loss, 1,
                 id="MLP-relu-mse"),
    pytest.param(lambda: MLP(3, [8, 8, 1], seed=1), mse_loss, 1, id="MLP-tanh-mse"),
    pytest.param(lambda: MLP(2, [6, 3], "sigmoid", "leaky_relu", negative_slope=0.2, seed=2),
                 functools.partial(mse_loss, reduction="sum"), 3, id="MLP-sigmoid-leaky-sum"),
    pytest.param(lambda: MLP(2, [8, 1], "leaky_relu", "linear", seed=3), hinge_loss, 1,
                 id="MLP-leaky-hinge"),
    pytest.param(lambda: MLP(2, [8, 1], "tanh", "linear", seed=4),
                 functools.partial(hinge_loss, margin=0.5, reduction="sum"), 1,
                 id="MLP-tanh-hinge-margin-sum"),
    pytest.param(lambda: Sequential(Layer(2, 5, "linear", seed=5), ReLU(), Layer(5, 2, "linear",
                                                                               seed=6), Tanh()),
                 mse_loss, 2, id="Sequential-relu-tanh"),
    pytest.param(lambda: Layer(3, 2, "sigmoid", seed=7), mse_loss, 2, id="Layer-sigmoid"),
]


def data(nin: int, nout: int, seed: int = 0) -> tuple[list[list[float]], list[Any]]:
    rng = random.Random(seed)
    xs = [[rng.uniform(-2.0, 2.0) for _ in range(nin)] for _ in range(BATCH)]
    ys = [rng.choice([-1.0, 1.0]) if nout == 1 else [rng.uniform(-1.0, 1.0) for _ in range(nout)]
          for _ in range(BATCH)]
    return xs, ys


def nin_of(model: Module) -> int:
    return model.nin if hasattr(model, "nin") else model[0].nin  # type: ignore[index]


def close(got: float, want: float) -> bool:
    return abs(got - want) <= TOL * max(1.0, abs(want))


def torch_loss(torch: Any, loss_fn: Any, out: Any, y: Any) -> Any:
    base = loss_fn.func if isinstance(loss_fn, functools.partial) else loss_fn
    kw = loss_fn.keywords if isinstance(loss_fn, functools.partial) else {}
    reduction = kw.get("reduction", "mean")
    if base is mse_loss:
        return torch.nn.functional.mse_loss(out, y, reduction=reduction)
    terms = torch.relu(kw.get("margin", 1.0) - y * out)
    return terms.mean() if reduction == "mean" else terms.sum()


@pytest.mark.torch
@pytest.mark.parametrize("make, loss_fn, nout", CASES)
def test_batched_step_matches_torch_nn_linear_and_sgd(make: Callable[[], Module], loss_fn: Any,
                                                     nout: int) -> None:
    torch = pytest.importorskip("torch")
    model = make()
    twin = to_torch(model)  # nn.Linear layers with the same weights, float64
    step, opt = batched_step(model, loss_fn), SGD(model.parameters(), lr=LR)
    topt = torch.optim.SGD(twin.parameters(), lr=LR)
    xs, ys = data(nin_of(model), nout)
    x = torch.tensor(xs, dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64).reshape(BATCH, nout)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = step(xs, ys)
        opt.step()
        topt.zero_grad()
        tloss = torch_loss(torch, loss_fn, twin(x), y)
        tloss.backward()
        topt.step()
        assert close(loss, tloss.item())
        theirs = [v for lin in twin if isinstance(lin, torch.nn.Linear)
                  for row, b in zip(lin.weight.tolist(), lin.bias.tolist()) for v in (*row, b)]
        ours = [p.data for p in model.parameters()]
        assert len(ours) == len(theirs)
        assert all(close(a, b) for a, b in zip(ours, theirs)), max(
            abs(a - b) for a, b in zip(ours, theirs))


@pytest.mark.parametrize("make, loss_fn, nout", CASES)
def test_batched_step_matches_the_eager_engine(make: Callable[[], Module], loss_fn: Any,
                                               nout: int) -> None:
    eager, batched = make(), make()
    step = batched_step(batched, loss_fn)
    opt_e, opt_b = SGD(eager.parameters(), lr=LR, momentum=0.9), SGD(batched.parameters(), lr=LR,
                                                                     momentum=0.9)
    for k in range(STEPS):
        xs, ys = data(nin_of(eager), nout, seed=k)  # a new batch each step
        opt_e.zero_grad()
        want = loss_fn([eager(x) for x in xs], ys)
        want.backward()
        opt_b.zero_grad()
        got = step(np.array(xs), np.array(ys))  # arrays as well as lists
        assert close(got, want.data)
        assert all(close(a.grad, b.grad) for a, b in zip(batched.parameters(), eager.parameters()))
        opt_e.step()
        opt_b.step()


# torch's per-element rules where the batched step must match the engine exactly: pre-activations
# exactly 0 (zero weights and bias), where relu'(0) = 0 and leaky_relu'(0) = slope; every hidden
# output is then 0, so every sum is exact and the results must be equal, not just close.
KINKS = [
    pytest.param("relu", id="relu-at-0"),
    pytest.param("leaky_relu", id="leaky_relu-at-0"),
    pytest.param("tanh", id="tanh-at-0"),
]  # (sigmoid(0) = 0.5 makes the next layer's sums inexact: summation order shows, see above)


@pytest.mark.parametrize("activation", KINKS)
def test_kinks_follow_torch_exactly(activation: str) -> None:
    eager, batched = (MLP(2, [3, 1], activation, "linear", negative_slope=0.25, seed=0)
                      for _ in range(2))
    for model in (eager, batched):
        for n in model.layers[0].neurons:
            for p in (*n.w, n.b):
                p.data = 0.0
    xs, ys = [[1.0, -2.0], [0.0, 3.0]], [1.0, -1.0]
    loss = mse_loss([eager(x) for x in xs], ys)
    loss.backward()
    assert batched_step(batched)(xs, ys) == loss.data
    assert [p.grad for p in batched.parameters()] == [p.grad for p in eager.parameters()]


def test_relu_gradient_is_zero_at_zero_and_torch_agrees() -> None:
    torch = pytest.importorskip("torch")
    model = Layer(1, 1, "relu", seed=0)
    model.neurons[0].w[0].data, model.neurons[0].b.data = 1.0, 0.0
    batched_step(model)([[0.0], [-1.0]], [[1.0], [1.0]])
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.relu(t).sum().backward()
    assert t.grad.item() == 0.0
    assert (model.neurons[0].w[0].grad, model.neurons[0].b.grad) == (0.0, 0.0)


def test_grads_accumulate_into_set_grads() -> None:
    model = MLP(2, [3, 1], seed=0)
    step = batched_step(model)
    step([[1.0, 2.0]], [0.5])
    once = [p.grad for p in model.parameters()]
    step([[1.0, 2.0]], [0.5])  # no zero_grad: added, as backward() adds
    assert [p.grad for p in model.parameters()] == [g + g for g in once]


UNSUPPORTED = [
    pytest.param(lambda: batched_step(Neuron(2)), TypeError,
                 "supports nn.MLP, nn.Layer and nn.Sequential of Layers and activations, "
                 "not Neuron", id="a-Neuron"),
    pytest.param(lambda: batched_step(Sequential(Tanh(), Layer(2, 1))), ValueError,
                 "Sequential item 0 is an activation with no linear layer right before it",
                 id="activation-first"),
    pytest.param(lambda: batched_step(Sequential(Layer(2, 2, "linear"), Sigmoid(), LeakyReLU())),
                 ValueError, "Sequential item 2 is an activation with no linear layer",
                 id="two-activations"),
    pytest.param(lambda: batched_step(Sequential(Layer(2, 2), MLP(2, [1]))), ValueError,
                 "Sequential item 1 is MLP", id="nested-MLP"),
    pytest.param(lambda: batched_step(Sequential(Layer(2, 3), Layer(2, 1))), ValueError,
                 "a layer of 3 outputs feeds a layer of 2 inputs", id="sizes-disagree"),
    pytest.param(lambda: batched_step(MLP(2, [1]), cross_entropy), ValueError,
                 "supports the losses mse_loss, hinge_loss, not cross_entropy", id="cross-entropy"),
    pytest.param(lambda: batched_step(MLP(2, [1]), functools.partial(mse_loss, reduction="none")),
                 ValueError, "reduction 'none' is not supported", id="reduction-none"),
    pytest.param(lambda: batched_step(MLP(2, [1]))([[1.0, 2.0, 3.0]], [1.0]), ValueError,
                 r"inputs must have shape \(batch, 2\), got \(1, 3\)", id="wrong-width"),
    pytest.param(lambda: batched_step(MLP(2, [1]))([[1.0, 2.0]], [1.0, 2.0]), ValueError,
                 "1 samples of 1 output", id="wrong-targets"),
]


@pytest.mark.parametrize("call, exc, message", UNSUPPORTED)
def test_unsupported_is_a_clear_error(call: Callable[[], Any], exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        call()


def test_a_neuron_with_its_own_activation_is_refused_by_name() -> None:
    model = MLP(2, [3, 1], "relu", "linear", seed=0)
    model.layers[0].neurons[1].activation = "tanh"
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.1 has activation 'tanh', its "
                                         r"layer 'relu'"):
        batched_step(model)


def test_without_numpy_it_says_what_to_install() -> None:
    code = ("import sys; sys.modules['numpy'] = None\n"
            "from vetgrad import nn\n"
            "try:\n    nn.batched_step(nn.MLP(2, [1]))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install numpy" in out.stdout, out.stdout + out.stderr


def test_importing_nn_does_not_import_numpy() -> None:
    code = "import sys; from vetgrad import nn; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
