"""to_torch / from_torch: identical weights and outputs both ways, and clear errors (including
the one a user gets without torch installed)."""

from __future__ import annotations

import sys
from typing import Any, Callable

import pytest
from vetgrad.nn import (
    MLP,
    Layer,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Tanh,
    from_torch,
    to_torch,
)

X = [[0.3, -1.2, 2.0], [-0.7, 0.1, 0.0], [1.5, 1.5, -2.5]]


def vet_outputs(module: Module) -> list[float]:
    """The module's outputs on X, row after row, as one flat list of floats."""
    out = []
    for x in X:
        y = module(x)
        out.extend(v.data for v in (y if isinstance(y, list) else [y]))
    return out


@pytest.mark.torch
@pytest.mark.parametrize("module", [
    pytest.param(MLP(3, [4, 4, 1], seed=0), id="MLP-tanh"),
    pytest.param(MLP(3, [2, 3], "relu", "linear", init="kaiming_uniform", seed=1), id="MLP-relu"),
    pytest.param(MLP(3, [1, 2], "sigmoid", "leaky_relu", negative_slope=0.2, seed=2),
                 id="MLP-sigmoid-one-neuron-hidden"),
    pytest.param(MLP(3, [5], "linear", seed=3), id="MLP-linear"),
    pytest.param(Layer(3, 2, "leaky_relu", seed=4), id="Layer"),
    pytest.param(Neuron(3, "sigmoid", seed=5), id="Neuron"),
    pytest.param(Sequential(Layer(3, 2, "linear", seed=6), ReLU(), Layer(2, 2, seed=7), Tanh()),
                 id="Sequential"),
])
def test_to_torch_computes_the_same_function(module: Module) -> None:
    torch = pytest.importorskip("torch")
    twin = to_torch(module)
    assert isinstance(twin, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in twin.parameters())
    got = twin(torch.tensor(X, dtype=torch.float64)).flatten().tolist()
    assert got == pytest.approx(vet_outputs(module), rel=1e-14, abs=1e-15)
    n_torch = sum(p.numel() for p in twin.parameters())
    assert n_torch == len(module.parameters())


@pytest.mark.torch
@pytest.mark.parametrize("model", [
    pytest.param(MLP(3, [4, 4, 1], seed=0), id="tanh"),
    pytest.param(MLP(3, [2, 1, 3], "leaky_relu", "sigmoid", negative_slope=0.3, seed=1),
                 id="leaky-sigmoid"),
    pytest.param(MLP(3, [2], "relu", "linear", seed=2), id="single-layer"),
])
def test_round_trip_gives_back_the_same_mlp(model: MLP) -> None:
    pytest.importorskip("torch")
    back = from_torch(to_torch(model))
    assert isinstance(back, MLP)
    assert repr(back) == repr(model)
    assert back.state_dict() == model.state_dict()  # bit for bit


@pytest.mark.torch
@pytest.mark.parametrize("build, kind", [
    pytest.param(lambda nn: nn.Linear(3, 2), MLP, id="Linear"),
    pytest.param(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), MLP,
                 id="relu-mlp"),
    pytest.param(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Tanh(),
                                          nn.Sequential(nn.Linear(4, 2), nn.Tanh())), MLP,
                 id="nested"),
    pytest.param(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4),
                                          nn.ReLU(), nn.Linear(4, 1)), Sequential,
                 id="mixed-activations"),
    pytest.param(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 4),
                                          nn.LeakyReLU(0.3), nn.Linear(4, 1)), Sequential,
                 id="different-slopes"),
    pytest.param(lambda nn: nn.Sequential(nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid(),
                                          nn.Identity()), Sequential, id="leading-activation"),
])
def test_from_torch_computes_the_same_function(build: Callable[[Any], Any], kind: type) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = build(torch.nn).double()
    net = from_torch(module)
    assert type(net) is kind
    want = module(torch.tensor(X, dtype=torch.float64)).flatten().tolist()
    assert vet_outputs(net) == pytest.approx(want, rel=1e-14, abs=1e-15)


@pytest.mark.torch
def test_to_torch_leaves_torchs_random_state_alone() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(123)
    before = torch.rand(1).item()
    torch.manual_seed(123)
    to_torch(MLP(3, [8, 8, 1], seed=0))
    assert torch.rand(1).item() == before


@pytest.mark.torch
@pytest.mark.parametrize("call, error, match", [
    pytest.param(lambda nn: from_torch(nn.Conv1d(1, 1, 1)), TypeError,
                 "from_torch converts torch.nn.Linear or torch.nn.Sequential, got Conv1d",
                 id="not-sequential"),
    pytest.param(lambda nn: from_torch(nn.Sequential(nn.Linear(2, 2), nn.GELU())), TypeError,
                 r"cannot convert GELU \(item 1\)", id="unknown-activation"),
    pytest.param(lambda nn: from_torch(nn.Sequential(nn.Linear(2, 2, bias=False))), ValueError,
                 "has no bias", id="no-bias"),
    pytest.param(lambda nn: from_torch(nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 1))),
                 ValueError, "a Linear with 3 outputs feeds one with 2 inputs", id="shapes"),
    pytest.param(lambda nn: from_torch(nn.Sequential(nn.ReLU())), ValueError,
                 "no Linear layer", id="no-linear"),
    pytest.param(lambda nn: to_torch("mlp"), TypeError, "to_torch needs a vetgrad Module",
                 id="to_torch-not-a-module"),
])
def test_interop_errors(call: Callable[[Any], Any], error: type, match: str) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(error, match=match):
        call(torch.nn)


@pytest.mark.parametrize("fn, arg", [
    pytest.param(to_torch, MLP(2, [1], seed=0), id="to_torch"),
    pytest.param(from_torch, object(), id="from_torch"),
])
def test_without_torch_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                        fn: Callable[[Any], Any],
                                                        arg: Any) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match="need PyTorch, which is not installed: pip install torch; "
                                          "for PyTorch's CPU-only wheel"):
        fn(arg)


def test_a_layer_used_twice_stays_tied_in_torch() -> None:
    from vetgrad.nn import Layer, Sequential

    shared = Layer(3, 3, activation="tanh")
    model = Sequential(shared, shared)
    twin = to_torch(model)
    assert sum(p.numel() for p in twin.parameters()) == len(model.parameters()) == 12
    assert twin[0] is twin[2]  # Linear, Tanh, the same Linear, Tanh
