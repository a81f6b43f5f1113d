"""Optimizers and schedulers: torch's defaults, torch's update on the same gradient stream, torch's
learning-rate sequences, parameter groups, and clear errors for bad arguments."""

from __future__ import annotations

import inspect
import math
import random
from typing import Any, Callable

import pytest
from vetgrad.engine import Value
from vetgrad.nn import MLP, SGD, Adam, AdamW, CosineAnnealingLR, LRScheduler, Optimizer, StepLR

START = [0.5, -1.5, 2.0, 1e-3, 0.0, 3.0, -0.25]


def rel_diff(a: float, b: float) -> float:
    """Relative difference, absolute below 1 (the parameters here are of order 1 and some pass
    through zero, where relative differences say nothing)."""
    return abs(a - b) / max(abs(a), abs(b), 1.0)


# One line per optimizer configuration (same keyword arguments on both sides).
OPTIMIZER_CASES = [
    pytest.param(SGD, {"lr": 0.1}, id="SGD"),
    pytest.param(SGD, {"lr": 0.1, "momentum": 0.9}, id="SGD-momentum"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}, id="SGD-dampening"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}, id="SGD-nesterov"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}, id="SGD-weight_decay"),
    pytest.param(SGD, {"lr": 0.05, "weight_decay": 0.1}, id="SGD-weight_decay-no-momentum"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.9, "maximize": True}, id="SGD-maximize"),
    pytest.param(Adam, {}, id="Adam-defaults"),
    pytest.param(Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}, id="Adam-betas-eps"),
    pytest.param(Adam, {"lr": 0.01, "betas": (0.3, 0.99)}, id="Adam-beta1-below-half"),
    pytest.param(Adam, {"lr": 0.01, "amsgrad": True}, id="Adam-amsgrad"),
    pytest.param(Adam, {"lr": 0.01, "weight_decay": 0.1}, id="Adam-weight_decay"),
    pytest.param(Adam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
                 id="Adam-decoupled"),
    pytest.param(Adam, {"lr": 0.01, "maximize": True}, id="Adam-maximize"),
    pytest.param(AdamW, {}, id="AdamW-defaults"),
    pytest.param(AdamW, {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}, id="AdamW-amsgrad"),
]


@pytest.mark.torch
@pytest.mark.parametrize("cls, kwargs", OPTIMIZER_CASES)
def test_update_matches_torch_on_the_same_gradients(cls: type[Optimizer], kwargs: dict) -> None:
    """The pure update formula: both sides see identical gradients for 200 steps, so the only
    differences are torch's fused multiply-adds (one rounding instead of two)."""
    torch = pytest.importorskip("torch")
    ps = [Value(x) for x in START]
    tp = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = cls(ps, **kwargs)
    topt = getattr(torch.optim, cls.__name__)([tp], **kwargs)
    rng = random.Random(0)
    worst = 0.0
    for _ in range(200):
        grads = [rng.gauss(0.0, 1.0) * 10 ** rng.uniform(-4, 1) for _ in START]
        for p, g in zip(ps, grads):
            p.grad = g
        tp.grad = torch.tensor(grads, dtype=torch.float64)
        opt.step()
        topt.step()
        worst = max(worst, *(rel_diff(p.data, t) for p, t in zip(ps, tp.tolist())))
    assert worst <= 1e-13
    assert [p.data for p in ps] != START  # it did move


@pytest.mark.torch
@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_defaults_and_argument_names_are_torchs(cls: type[Optimizer]) -> None:
    torch = pytest.importorskip("torch")
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(getattr(torch.optim, cls.__name__)).parameters
    for name, param in ours.items():
        assert name in theirs, f"{cls.__name__}({name}=...) is not a torch argument"
        assert param.default == theirs[name].default, name
        assert param.kind == theirs[name].kind, name


@pytest.mark.torch
def test_parameter_groups_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a, b = [Value(x) for x in START[:3]], [Value(x) for x in START[3:]]
    ta = torch.tensor(START[:3], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(START[3:], dtype=torch.float64, requires_grad=True)
    opt = SGD([{"params": a}, {"params": b, "lr": 0.5, "momentum": 0.5}], lr=0.1)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.5, "momentum": 0.5}],
                           lr=0.1)
    for step in range(10):
        for p in a + b:
            p.grad = math.sin(step + p.data)
        ta.grad = torch.tensor([math.sin(step + p.data) for p in a], dtype=torch.float64)
        tb.grad = torch.tensor([math.sin(step + p.data) for p in b], dtype=torch.float64)
        opt.step()
        topt.step()
    assert [p.data for p in a + b] == pytest.approx(ta.tolist() + tb.tolist(), rel=1e-14)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]


def test_training_an_mlp_reduces_the_loss() -> None:
    model = MLP(2, [4, 1], seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    data = [([0.0, 1.0], 1.0), ([1.0, 0.0], -1.0), ([1.0, 1.0], 0.5)]

    def closure() -> Value:
        opt.zero_grad()
        loss = sum((model(x) - y) ** 2 for x, y in data)
        loss.backward()
        return loss

    first = opt.step(closure).data
    for _ in range(50):
        last = opt.step(closure).data
    assert last < 0.1 * first


def test_zero_grad() -> None:
    ps = [Value(1.0), Value(2.0)]
    (ps[0] * ps[1]).backward()
    opt = SGD(ps)
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


def test_sgd_first_momentum_step_is_undamped() -> None:
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = 2.0
    opt.step()
    assert opt.state[p]["momentum_buffer"] == 2.0  # a copy of the gradient, no (1 - dampening)
    p.grad = 2.0
    opt.step()
    assert opt.state[p]["momentum_buffer"] == 2.0 * 0.9 + 0.5 * 2.0


@pytest.mark.parametrize("make, error, match", [
    pytest.param(lambda p: SGD([]), ValueError, "SGD got an empty parameter list", id="empty"),
    pytest.param(lambda p: Adam(iter([])), ValueError, "Adam got an empty parameter list",
                 id="empty-iterator"),
    pytest.param(lambda p: SGD(p[0]), TypeError, "got a single Value", id="single-value"),
    pytest.param(lambda p: SGD(5), TypeError, "params must be an iterable", id="not-iterable"),
    pytest.param(lambda p: SGD([1.0]), TypeError, "parameter 0 is a float", id="float-param"),
    pytest.param(lambda p: SGD([p[0], p[0]]), ValueError, "same parameter more than once",
                 id="duplicate"),
    pytest.param(lambda p: SGD([{"params": [p[0]]}, {"params": [p[0]]}]), ValueError,
                 "more than one parameter group", id="duplicate-across-groups"),
    pytest.param(lambda p: SGD([{"params": p, "foo": 1}]), ValueError,
                 r"unknown hyper-parameter\(s\) for SGD: foo", id="unknown-key"),
    pytest.param(lambda p: SGD([{"lr": 0.1}]), ValueError, "needs a 'params' key",
                 id="no-params-key"),
    pytest.param(lambda p: SGD(p, lr=-0.1), ValueError, "Invalid learning rate: -0.1",
                 id="negative-lr"),
    pytest.param(lambda p: SGD(p, lr="0.1"), TypeError, "lr must be a real number",
                 id="string-lr"),
    pytest.param(lambda p: SGD(p, momentum=-0.5), ValueError, "Invalid momentum value: -0.5",
                 id="negative-momentum"),
    pytest.param(lambda p: SGD(p, weight_decay=-1), ValueError, "Invalid weight_decay value",
                 id="negative-wd"),
    pytest.param(lambda p: SGD(p, nesterov=True), ValueError,
                 "Nesterov momentum requires a momentum and zero dampening", id="nesterov"),
    pytest.param(lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
                 "Nesterov momentum requires", id="nesterov-dampening"),
    pytest.param(lambda p: Adam(p, betas=(1.0, 0.999)), ValueError,
                 "Invalid beta parameter at index 0: 1.0", id="beta1"),
    pytest.param(lambda p: AdamW(p, betas=(0.9, -0.1)), ValueError,
                 "Invalid beta parameter at index 1", id="beta2"),
    pytest.param(lambda p: Adam(p, betas=(0.9,)), ValueError, "betas must be a pair",
                 id="betas-length"),
    pytest.param(lambda p: Adam(p, eps=-1e-8), ValueError, "Invalid epsilon value",
                 id="eps"),
    pytest.param(lambda p: Adam(p, weight_decay=-0.1), ValueError,
                 "Invalid weight_decay value", id="adam-wd"),
    pytest.param(lambda p: StepLR(SGD(p), step_size=0), ValueError,
                 "step_size must be a positive int, got 0", id="steplr-step_size"),
    pytest.param(lambda p: CosineAnnealingLR(SGD(p), T_max=1.5), ValueError,
                 "T_max must be a positive int", id="cosine-T_max"),
    pytest.param(lambda p: StepLR("sgd", step_size=1), TypeError,
                 "StepLR needs an nn.optim optimizer, got str", id="scheduler-optimizer"),
])
def test_bad_arguments_raise_clearly(make: Callable[[list[Value]], Any], error: type,
                                     match: str) -> None:
    with pytest.raises(error, match=match):
        make([Value(1.0), Value(2.0)])


# -- schedulers -------------------------------------------------------------------------------
SCHEDULER_CASES = [
    pytest.param(StepLR, {"step_size": 3, "gamma": 0.5}, id="StepLR-3"),
    pytest.param(StepLR, {"step_size": 1, "gamma": 0.9}, id="StepLR-1"),
    pytest.param(StepLR, {"step_size": 7}, id="StepLR-default-gamma"),
    pytest.param(CosineAnnealingLR, {"T_max": 10}, id="Cosine-10"),
    pytest.param(CosineAnnealingLR, {"T_max": 7, "eta_min": 0.01}, id="Cosine-eta_min"),
    pytest.param(CosineAnnealingLR, {"T_max": 1}, id="Cosine-1"),
]


@pytest.mark.torch
@pytest.mark.parametrize("cls, kwargs", SCHEDULER_CASES)
def test_learning_rates_equal_torchs_bit_for_bit(cls: type[LRScheduler], kwargs: dict) -> None:
    torch = pytest.importorskip("torch")
    opt = SGD([{"params": [Value(1.0)]}, {"params": [Value(2.0)], "lr": 0.3}], lr=0.1)
    t1 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    t2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([{"params": [t1]}, {"params": [t2], "lr": 0.3}], lr=0.1)
    sched = cls(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, cls.__name__)(topt, **kwargs)
    seen = []
    for _ in range(60):
        assert sched.get_last_lr() == tsched.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        seen.append(sched.get_last_lr()[0])
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    assert len(set(seen)) > 1  # the schedule changed the rate
    assert sched.last_epoch == tsched.last_epoch == 60


# (step on which each parameter gets a gradient): 'a' every step, 'b' never, 'c' from step 3 on,
# 'd' on step 1 only (then unset by zero_grad, as an unused branch).
GRAD_SCHEDULE = {"a": range(5), "b": range(0), "c": range(3, 5), "d": range(1)}


@pytest.mark.torch
@pytest.mark.parametrize("cls, kwargs", OPTIMIZER_CASES)
def test_a_parameter_without_a_gradient_is_skipped_as_torch_skips_grad_none(cls, kwargs) -> None:
    """zero_grad() unsets grads (torch: None); step() must leave such a parameter and its state
    alone: no weight decay, no momentum, no step count."""
    torch = pytest.importorskip("torch")
    ps = {k: Value(v) for k, v in zip(GRAD_SCHEDULE, START)}
    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in zip(GRAD_SCHEDULE, START)}
    opt, topt = cls(list(ps.values()), **kwargs), getattr(torch.optim, cls.__name__)(list(ts.values()), **kwargs)
    for step in range(5):
        opt.zero_grad()
        topt.zero_grad()
        used = [k for k, steps in GRAD_SCHEDULE.items() if step in steps]
        if used:
            sum((ps[k] * ps[k] for k in used), Value(0.0)).backward()
            sum(ts[k] * ts[k] for k in used).backward()
        opt.step()
        topt.step()
    for k in GRAD_SCHEDULE:
        assert rel_diff(ps[k].data, ts[k].item()) < 1e-12, (k, ps[k].data, ts[k].item())


@pytest.mark.torch
def test_adam_with_zero_eps_and_a_zero_gradient_gives_nan_as_torch() -> None:
    torch = pytest.importorskip("torch")
    p, t = Value(1.0), torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    opt, topt = Adam([p], eps=0.0), torch.optim.Adam([t], eps=0.0)
    (p * 0.0).backward()
    (t * 0.0).backward()
    opt.step()
    topt.step()
    assert math.isnan(p.data) and math.isnan(t.item())


def test_a_parameter_frozen_with_grad_none_stays_put() -> None:
    p, q = Value(1.0), Value(2.0)
    opt = SGD([p, q], lr=0.1, momentum=0.9)
    (p * q).backward()
    q.grad = None  # torch's way to freeze a parameter for a step
    opt.step()
    assert q.data == 2.0 and p.data != 1.0


def test_a_scheduler_refuses_a_group_added_after_it() -> None:
    opt = SGD([Value(1.0)], lr=0.1)
    sched = StepLR(opt, step_size=1)
    opt.add_param_group({"params": [Value(2.0)]})
    with pytest.raises(ValueError, match=r"made for 1 parameter group.*now has 2"):
        sched.step()


def _train(model: MLP, opt: Optimizer, sched: LRScheduler, steps: range) -> None:
    xs = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
    ys = [1.0, -1.0, 0.5]
    for _ in steps:
        opt.zero_grad()
        loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
        loss.backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
], ids=["SGD-nesterov", "Adam-amsgrad", "AdamW"])
def test_training_resumed_from_state_dicts_through_json_is_the_same_training(make) -> None:
    import json

    def fresh() -> tuple[MLP, Optimizer, LRScheduler]:
        model = MLP(2, [4, 1], rng=random.Random(3))
        opt = make(model.parameters())
        return model, opt, CosineAnnealingLR(opt, T_max=4)

    model, opt, sched = fresh()
    _train(model, opt, sched, range(8))
    first, opt1, sched1 = fresh()
    _train(first, opt1, sched1, range(4))
    saved = json.loads(json.dumps([first.state_dict(), opt1.state_dict(), sched1.state_dict()]))
    resumed, opt2, sched2 = fresh()
    resumed.load_state_dict(saved[0])
    opt2.load_state_dict(saved[1])
    sched2.load_state_dict(saved[2])
    _train(resumed, opt2, sched2, range(4))
    assert [p.data for p in resumed.parameters()] == [p.data for p in model.parameters()]
    assert sched2.get_last_lr() == sched.get_last_lr()


@pytest.mark.torch
@pytest.mark.parametrize("cls, kwargs", OPTIMIZER_CASES)
def test_state_dict_holds_torchs_per_parameter_state(cls, kwargs) -> None:
    torch = pytest.importorskip("torch")
    ps = [Value(x) for x in START]
    tp = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
    opt, topt = cls(ps, **kwargs), getattr(torch.optim, cls.__name__)(tp, **kwargs)
    for step in range(3):
        for p, t, k in zip(ps, tp, range(len(ps))):
            p.grad = t.grad = None
            p.grad = 0.1 * (k + 1) * (step + 1)
            t.grad = torch.tensor(p.grad, dtype=torch.float64)
        opt.step()
        topt.step()
    mine, theirs = opt.state_dict(), topt.state_dict()
    assert mine["param_groups"][0]["params"] == theirs["param_groups"][0]["params"]
    for k, st in theirs["state"].items():
        assert set(mine["state"][k]) == set(st)
        for name, v in st.items():
            assert rel_diff(mine["state"][k][name], float(v)) < 1e-12, (k, name)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter group"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "group 0: the state dict has 1 parameters"),
    (lambda sd: sd["param_groups"][0].update(nesterov=True), "unknown hyper-parameter"),
    (lambda sd: sd["state"].update({"7": {"step": 1.0}}), "names no parameter"),
    (lambda sd: sd.pop("state"), "exactly the keys"),
])
def test_load_state_dict_names_what_does_not_fit(edit, match) -> None:
    opt = Adam([Value(1.0), Value(2.0)])
    sd = opt.state_dict()
    sd["param_groups"][0]["params"] = list(sd["param_groups"][0]["params"])
    edit(sd)
    with pytest.raises(ValueError, match=match):
        Adam([Value(1.0), Value(2.0)]).load_state_dict(sd)


def test_zero_grad_can_keep_a_set_zero() -> None:
    p, q = Value(1.0), Value(2.0)
    opt = SGD([p, q], lr=0.1, weight_decay=0.5)
    (p * 3.0).backward()
    opt.zero_grad(set_to_none=False)  # p: a set 0.0 (weight decay applies); q: still unset
    opt.step()
    assert p.data == 1.0 - 0.1 * 0.5 and q.data == 2.0
