"""nn.compile_step: bit for bit the eager step (model on Values + backward()) over several steps
with an optimizer and a new batch each step, for several models, activations and losses; grads
written as backward() writes them; clear errors."""

from __future__ import annotations

import functools
import random
import struct
from typing import Any, Callable

import pytest
from vetgrad.engine import Value, grad_is_set
from vetgrad.nn import (
    MLP,
    SGD,
    Adam,
    Layer,
    Module,
    ReLU,
    Sequential,
    Tanh,
    bce_with_logits,
    compile_step,
    cross_entropy,
    hinge_loss,
    l2_regularization,
    mse_loss,
)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)  # -0.0 and 0.0 differ, every nan payload is itself


def mse_l2(model: Module) -> Callable[[list[Any], list[Any]], Value]:
    return lambda outs, ys: mse_loss(outs, ys) + l2_regularization(model.parameters(), 1e-3)


# model factory (called twice: two identical twins), loss (given the model), targets per sample
CASES = [
    pytest.param(lambda: MLP(2, [8, 8, 1], "relu", "linear", seed=0), lambda m: mse_loss, 1,
                 id="MLP-relu-mse"),
    pytest.param(lambda: MLP(3, [4, 4, 1], seed=1), lambda m: mse_loss, 1, id="MLP-tanh-mse"),
    pytest.param(lambda: MLP(2, [5, 2], "sigmoid", "leaky_relu", negative_slope=0.2, seed=2),
                 lambda m: functools.partial(mse_loss, reduction="sum"), 2,
                 id="MLP-sigmoid-leaky-two-outputs-sum"),
    pytest.param(lambda: MLP(2, [6, 1], "leaky_relu", "linear", seed=3), lambda m: hinge_loss, 1,
                 id="MLP-leaky-hinge"),
    pytest.param(lambda: Sequential(Layer(2, 4, "linear", seed=4), ReLU(), Layer(4, 3, "linear",
                                                                               seed=5), Tanh()),
                 lambda m: mse_loss, 3, id="Sequential-relu-tanh-mse"),
    pytest.param(lambda: MLP(2, [4, 1], "relu", "linear", seed=6), mse_l2, 1,
                 id="MLP-relu-mse-plus-l2"),
]


def batch(rng: random.Random, size: int, nin: int, nout: int) -> tuple[list[Any], list[Any]]:
    """Inputs with exact zeros among them (relu's kink) and ±1 targets."""
    xs = [[rng.choice([0.0, rng.uniform(-2.0, 2.0)]) for _ in range(nin)] for _ in range(size)]
    ys = [rng.choice([-1.0, 1.0]) if nout == 1 else [rng.choice([-1.0, 1.0]) for _ in range(nout)]
          for _ in range(size)]
    return xs, ys


def nin_of(model: Module) -> int:
    return model.nin if hasattr(model, "nin") else model[0].nin  # type: ignore[index]


@pytest.mark.parametrize("make, loss_for, nout", CASES)
@pytest.mark.parametrize("opt", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                 lambda ps: Adam(ps, lr=0.05)], ids=["SGD-momentum", "Adam"])
def test_compiled_step_is_the_eager_step_bit_for_bit(make: Callable[[], Module], loss_for: Any,
                                                     nout: int, opt: Any) -> None:
    eager, compiled = make(), make()
    loss_e, loss_c = loss_for(eager), loss_for(compiled)
    opt_e, opt_c = opt(eager.parameters()), opt(compiled.parameters())
    step = compile_step(compiled, loss_c, batch_size=6)
    rng = random.Random(7)
    for _ in range(6):
        xs, ys = batch(rng, 6, nin_of(eager), nout)
        opt_e.zero_grad()
        want = loss_e([eager(x) for x in xs], ys)
        want.backward()
        opt_c.zero_grad()
        got = step(xs, ys)
        assert bits(got) == bits(want.data)
        assert [bits(p.grad) for p in compiled.parameters()] == \
               [bits(p.grad) for p in eager.parameters()]
        opt_e.step()
        opt_c.step()
        assert [bits(p.data) for p in compiled.parameters()] == \
               [bits(p.data) for p in eager.parameters()]
    assert step.compiled is not None and "def " in step.source


def test_grads_accumulate_as_backward_accumulates() -> None:
    """No zero_grad between steps: the second step adds to the set grads, as backward() does."""
    eager, compiled = MLP(2, [3, 1], "relu", "linear", seed=0), MLP(2, [3, 1], "relu", "linear",
                                                                   seed=0)
    step = compile_step(compiled, mse_loss, 2)
    for xs, ys in (([[1.0, -2.0], [0.5, 0.25]], [1.0, -1.0]), ([[0.0, 3.0], [-1.0, 1.0]], [0.5, 2.0])):
        mse_loss([eager(x) for x in xs], ys).backward()
        step(xs, ys)
    assert [bits(p.grad) for p in compiled.parameters()] == \
           [bits(p.grad) for p in eager.parameters()]


def test_a_parameter_the_loss_does_not_reach_keeps_an_unset_grad() -> None:
    model = Layer(2, 2, "linear", seed=0)  # the loss reads output 0 only: neuron 1 is unused
    step = compile_step(model, lambda outs, ys: mse_loss([o[0] for o in outs], ys), 2)
    for _ in range(2):  # the traced call, then a replay
        model.zero_grad()
        step([[1.0, 2.0], [3.0, -1.0]], [0.0, 1.0])
        assert [grad_is_set(p) for p in model.parameters()] == [True] * 3 + [False] * 3


def test_integer_inputs_are_numbers_too() -> None:
    model = MLP(1, [2, 1], seed=0)
    step = compile_step(model, mse_loss, 2)
    first = step([[1], [2]], [0, 1])
    assert step([[1], [2]], [0, 1]) == first  # the same weights (no update): the same loss


ERRORS = [
    pytest.param(lambda m: compile_step(m, bce_with_logits, 2), ValueError,
                 "cannot compile binary_cross_entropy_with_logits: it branches on .data",
                 id="bce-branches-on-data"),
    pytest.param(lambda m: compile_step(m, functools.partial(cross_entropy, reduction="sum"), 2),
                 ValueError, "cannot compile cross_entropy", id="partial-cross-entropy"),
    pytest.param(lambda m: compile_step(m, mse_loss, 0), ValueError,
                 "batch_size must be a positive int, got 0", id="batch-size-0"),
    pytest.param(lambda m: compile_step("model", mse_loss, 2), TypeError,
                 "needs an nn Module, got str", id="not-a-module"),
    pytest.param(lambda m: compile_step(m, "mse", 2), TypeError, "loss_fn must be callable",
                 id="loss-not-callable"),
    pytest.param(lambda m: compile_step(m, mse_loss, 2)([[1.0, 2.0]], [1.0]), ValueError,
                 "compiled for batches of 2, inputs has 1 samples", id="short-batch"),
    pytest.param(lambda m: compile_step(m, mse_loss, 1)([[1.0, "x"]], [1.0]), TypeError,
                 "inputs[0][1] must be a real number, got str", id="non-number-input"),
    pytest.param(lambda m: compile_step(m, lambda o, y: 1.0, 1)([[1.0, 2.0]], [1.0]), TypeError,
                 "loss_fn must return one Value, got float", id="loss-returns-float"),
    pytest.param(lambda m: compile_step(m, lambda o, y: mse_loss(y, [0.0]), 1)([[1.0, 2.0]], [1.0]),
                 ValueError, "does not depend on any parameter", id="loss-without-params"),
]


@pytest.mark.parametrize("call, exc, message", ERRORS)
def test_misuse_is_a_clear_error(call: Callable[[Module], Any], exc: type, message: str) -> None:
    with pytest.raises(exc, match=message.replace("[", r"\[").replace("]", r"\]").replace(
            "(", r"\(").replace(")", r"\)")):
        call(MLP(2, [2, 1], seed=0))


REPLAY_ERRORS = [
    pytest.param([[1.0, 2.0], [3.0]], [1.0, 2.0], ValueError,
                 r"inputs\[1\] is a list of 1, the step was traced with a list of 2",
                 id="sample-shape-changed"),
    pytest.param([[1.0, 2.0], [3.0, None]], [1.0, 2.0], TypeError,
                 r"inputs\[1\]\[1\] must be a real number, got NoneType", id="none-in-replay"),
    pytest.param([[1.0, 2.0], [3.0, 4.0]], [1.0], ValueError,
                 "compiled for batches of 2, targets has 1 samples", id="targets-short"),
    pytest.param([[1.0, 2.0], [3.0, 4.0]], [1.0, [2.0]], ValueError,
                 r"targets\[1\] is a list of 1, the step was traced with a number",
                 id="target-shape-changed"),
]


@pytest.mark.parametrize("xs, ys, exc, message", REPLAY_ERRORS)
def test_a_replay_with_another_batch_shape_is_a_clear_error(xs: Any, ys: Any, exc: type,
                                                             message: str) -> None:
    step = compile_step(MLP(2, [2, 1], seed=0), mse_loss, 2)
    step([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0])
    with pytest.raises(exc, match=message):
        step(xs, ys)
