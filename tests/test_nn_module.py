"""nn's modules without torch: the lecture's code, parameters, initialisation, state dicts, reprs
and the errors for bad input."""

from __future__ import annotations

import copy
import json
import math
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest
from vetgrad.engine import Value
from vetgrad.nn import (
    MLP,
    SGD,
    Identity,
    Layer,
    LeakyReLU,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)


def test_lecture_code_runs_unchanged_and_learns() -> None:
    random.seed(1337)  # the lecture's MLP draws from the global random module
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    n = MLP(3, [4, 4, 1])
    losses = []
    for _ in range(20):
        ypred = [n(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.05 * p.grad
        losses.append(loss.data)
    assert all(isinstance(y, Value) for y in ypred)
    assert len(n.parameters()) == 41
    assert losses[-1] < 0.1 * losses[0]
    assert n.layers[0].neurons[0].w[0].grad != 0.0  # the lecture inspects this


@pytest.mark.parametrize("nouts, shape", [
    ([1, 3, 1], "value"),      # one-neuron hidden layer feeds the next layer
    ([3, 1, 1], "value"),
    ([1], "value"),
    ([3, 1, 2], "list2"),
    ([2, 1, 1, 4], "list4"),
])
def test_mlp_output_shape_and_gradients_reach_first_layer(nouts: list[int], shape: str) -> None:
    n = MLP(2, nouts, seed=3)
    out = n([0.5, -1.5])
    outs = [out] if shape == "value" else out
    assert isinstance(out, Value) if shape == "value" else len(out) == int(shape[4:])
    sum(outs).backward()
    assert any(w.grad != 0.0 for w in n.layers[0].neurons[0].w)


@pytest.mark.parametrize("module, n_params", [
    (Neuron(3, seed=0), 4),
    (Layer(3, 4, seed=0), 16),
    (Layer(2, 1, seed=0), 3),
    (MLP(3, [4, 4, 1], seed=0), 41),
    (MLP(2, [16, 16, 1], seed=0), 337),
    (Sequential(Layer(2, 3, seed=0), Tanh(), Layer(3, 1, seed=1)), 13),
    (Tanh(), 0),
])
def test_parameter_count(module: Module, n_params: int) -> None:
    assert len(module.parameters()) == n_params == module.num_parameters()


@pytest.mark.parametrize("module, first, last", [
    (Neuron(2, seed=0), "w.0", "b"),
    (Layer(2, 3, seed=0), "neurons.0.w.0", "neurons.2.b"),
    (MLP(3, [4, 1], seed=0), "layers.0.neurons.0.w.0", "layers.1.neurons.0.b"),
    (Sequential(Tanh(), Layer(1, 2, seed=0)), "1.neurons.0.w.0", "1.neurons.1.b"),
])
def test_named_parameters_follow_the_structure(module: Module, first: str, last: str) -> None:
    named = module.named_parameters()
    assert (named[0][0], named[-1][0]) == (first, last)
    assert [v for _, v in named] == module.parameters()


def test_shared_parameter_listed_once() -> None:
    shared = Layer(2, 2, seed=0)
    model = Sequential(shared, Tanh(), shared)
    assert len(model.parameters()) == 6
    assert len(model.state_dict()) == 8  # state dicts keep both names, as torch does


def test_layer_returns_a_list_even_with_one_neuron() -> None:
    out = Layer(2, 1, seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1


def test_neuron_is_the_weighted_sum_then_activation() -> None:
    n = Neuron(3, "linear", seed=0)
    x = [0.5, -2.0, 3.0]
    expected = n.w[0].data * x[0] + n.w[1].data * x[1] + n.w[2].data * x[2] + n.b.data
    assert n(x).data == expected


@pytest.mark.parametrize("activation, z, expected", [
    ("tanh", 0.7, math.tanh(0.7)),
    ("relu", -0.7, 0.0),
    ("relu", 0.7, 0.7),
    ("sigmoid", 0.7, 1 / (1 + math.exp(-0.7))),
    ("leaky_relu", -0.7, -0.7 * 0.2),
    ("leaky_relu", 0.7, 0.7),
    ("linear", -0.7, -0.7),
])
def test_activation(activation: str, z: float, expected: float) -> None:
    n = Neuron(1, activation, negative_slope=0.2, seed=0)
    n.w[0].data, n.b.data = 1.0, 0.0
    assert n([z]).data == pytest.approx(expected, rel=1e-15)
    module = {"tanh": Tanh(), "relu": ReLU(), "sigmoid": Sigmoid(), "linear": Identity(),
              "leaky_relu": LeakyReLU(0.2)}[activation]
    assert float(module([z])[0]) == pytest.approx(expected, rel=1e-15)  # Identity passes floats


# -- initialisation ---------------------------------------------------------------------------
def test_same_seed_same_parameters_and_rng_equals_seed() -> None:
    a = MLP(3, [4, 2], seed=7).state_dict()
    assert MLP(3, [4, 2], seed=7).state_dict() == a
    assert MLP(3, [4, 2], rng=random.Random(7)).state_dict() == a
    assert MLP(3, [4, 2], seed=8).state_dict() != a


def test_unseeded_uses_global_random() -> None:
    random.seed(5)
    a = MLP(2, [3]).state_dict()
    random.seed(5)
    assert MLP(2, [3]).state_dict() == a


@pytest.mark.parametrize("init, nin, bound", [
    ("uniform", 4, 1.0),
    ("uniform", 100, 1.0),
    ("kaiming_uniform", 4, 0.5),
    ("kaiming_uniform", 100, 0.1),
])
def test_init_bounds(init: str, nin: int, bound: float) -> None:
    values = [p.data for p in Layer(nin, 50, init=init, seed=0).parameters()]
    assert max(abs(v) for v in values) <= bound
    assert max(abs(v) for v in values) > 0.9 * bound  # the whole range is used
    assert abs(sum(values) / len(values)) < 0.1 * bound  # centred


# -- state dicts ------------------------------------------------------------------------------
def test_state_dict_round_trips_through_json_and_keeps_value_identity() -> None:
    src, dst = MLP(3, [4, 1], seed=1), MLP(3, [4, 1], seed=2)
    params = dst.parameters()
    opt = SGD(params, lr=0.1)
    dst.load_state_dict(json.loads(json.dumps(src.state_dict())))
    assert dst.state_dict() == src.state_dict()
    assert dst([1.0, 2.0, 3.0]).data == src([1.0, 2.0, 3.0]).data
    assert dst.parameters() == params  # same Value objects: the optimizer still drives them
    dst([1.0, 2.0, 3.0]).backward()
    opt.step()
    assert dst.state_dict() != src.state_dict()


@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_model_copies_compute_the_same_and_own_their_parameters(clone) -> None:
    model = MLP(3, [4, 4, 1], rng=random.Random(0))
    twin = clone(model)
    x = [0.5, -1.0, 2.0]
    assert twin(x).data == model(x).data
    assert not set(map(id, twin.parameters())) & set(map(id, model.parameters()))


def test_state_dict_layout() -> None:
    sd = Neuron(2, seed=0).state_dict()
    assert list(sd) == ["w", "b"]
    assert isinstance(sd["w"], list) and len(sd["w"]) == 2 and isinstance(sd["b"], float)


def _sd(**changes: object) -> dict:
    sd = MLP(2, [2, 1], seed=0).state_dict()
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is KeyError:
            del sd[key]
        else:
            sd[key] = value
    return sd


@pytest.mark.parametrize("state, error, match", [
    (_sd(layers__0__neurons__1__b=KeyError), ValueError, r"missing key\(s\): 'layers.0.neurons.1.b'"),
    (_sd(extra=1.0), ValueError, r"unexpected key\(s\): 'extra'"),
    (_sd(layers__1__neurons__0__w=[1.0]), ValueError, r"'layers.1.neurons.0.w'\] has shape \[1\], expected \[2\]"),
    (_sd(layers__1__neurons__0__w=1.0), ValueError, r"'layers.1.neurons.0.w'\] must be a list of 2"),
    (_sd(layers__1__neurons__0__b=[1.0]), ValueError, r"'layers.1.neurons.0.b'\] must be a float \(shape \[\]\)"),
    (_sd(layers__1__neurons__0__b="0.5"), ValueError, r"'layers.1.neurons.0.b'\] must be a float"),
    (_sd(layers__1__neurons__0__w=[1.0, None]), ValueError, r"'layers.1.neurons.0.w\[1\]'\]"),
    ([("a", 1.0)], TypeError, "must be a mapping"),
])
def test_load_state_dict_errors_name_the_problem_and_change_nothing(state: object, error: type,
                                                                    match: str) -> None:
    model = MLP(2, [2, 1], seed=1)  # the state comes from seed 0: any early write would show
    before = model.state_dict()
    with pytest.raises(error, match=match):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_non_strict_reports_keys() -> None:
    model = MLP(2, [1], seed=0)
    result = model.load_state_dict({"layers.0.neurons.0.b": 2.5, "other": 1.0}, strict=False)
    assert result.missing_keys == ["layers.0.neurons.0.w"]
    assert result.unexpected_keys == ["other"]
    assert model.layers[0].neurons[0].b.data == 2.5


def test_zero_grad() -> None:
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# -- reprs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, text", [
    (Neuron(3, seed=0), "Neuron(3, activation='tanh')"),
    (Layer(3, 4, "leaky_relu", negative_slope=0.2, seed=0),
     "Layer(3, 4, activation='leaky_relu', negative_slope=0.2)"),
    (MLP(3, [4, 1], "relu", "linear", seed=0),
     "MLP(\n  (0): Layer(3, 4, activation='relu')\n  (1): Layer(4, 1, activation='linear')\n)"),
    (Sequential(Layer(1, 2, seed=0), LeakyReLU(0.1)),
     "Sequential(\n  (0): Layer(1, 2, activation='tanh')\n  (1): LeakyReLU(negative_slope=0.1)\n)"),
    (Sequential(MLP(1, [1], seed=0)),
     "Sequential(\n  (0): MLP(\n    (0): Layer(1, 1, activation='tanh')\n  )\n)"),
])
def test_repr_shows_the_architecture(module: Module, text: str) -> None:
    assert repr(module) == text


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("module, x, error, match", [
    (MLP(3, [4, 1], seed=0), [1.0, 2.0], ValueError, r"Layer\(3, 4, .*\) expects 3 inputs, got 2"),
    (Layer(2, 2, seed=0), [1.0, 2.0, 3.0], ValueError, "expects 2 inputs, got 3"),
    (Neuron(2, seed=0), [1.0], ValueError, "expects 2 inputs, got 1"),
    (Neuron(1, seed=0), [], ValueError, "expects 1 input, got 0"),
    (Neuron(2, seed=0), "ab", TypeError, "takes a list of 2 numbers"),
    (Neuron(2, seed=0), [1.0, "x"], TypeError, "input 1 must be a number or Value"),
    (Neuron(2, seed=0), [None, 1.0], TypeError, "input 0 must be a number or Value"),
    (Tanh(), ["x"], TypeError, "activations take Values or real numbers"),
])
def test_wrong_input_raises_clearly(module: Module, x: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        module(x)


def test_scalar_input_for_one_input_module() -> None:
    n = Neuron(1, "linear", seed=0)
    assert n(2.0).data == n([2.0]).data == n(Value(2.0)).data


@pytest.mark.parametrize("make, error, match", [
    (lambda: MLP(0, [1]), ValueError, "nin must be a positive int, got 0"),
    (lambda: MLP(2, []), ValueError, "nouts must be a non-empty list"),
    (lambda: MLP(2, [3, 0]), ValueError, r"nouts\[1\] must be a positive int"),
    (lambda: MLP(2, 3), ValueError, "nouts must be a non-empty list of layer sizes, got 3"),
    (lambda: Layer(2, 1.5), ValueError, "nout must be a positive int"),
    (lambda: Neuron(2, "softmax"), ValueError, "unknown activation 'softmax'; choose one of"),
    (lambda: MLP(2, [1], final_activation="gelu"), ValueError, "unknown final_activation"),
    (lambda: Neuron(2, init="normal"), ValueError, "unknown init 'normal'"),
    (lambda: Neuron(2, seed="x"), TypeError, "seed must be an int"),
    (lambda: Neuron(2, seed=1, rng=random.Random(1)), ValueError, "not both"),
    (lambda: Neuron(2, rng=object()), TypeError, "rng must be a random.Random"),
    (lambda: Neuron(2, negative_slope="x"), TypeError, "negative_slope must be a real number"),
    (lambda: Sequential(Tanh(), 3), TypeError, "item 1 is int"),
])
def test_bad_constructor_arguments(make: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_sequential_chains_and_indexes() -> None:
    a, b = Layer(2, 3, "linear", seed=0), Layer(3, 2, "linear", seed=1)
    model = Sequential(a, Tanh(), b)
    x = [0.3, -0.4]
    expected = [v.data for v in b([h.tanh() for h in a(x)])]
    assert [v.data for v in model(x)] == expected
    assert len(model) == 3 and model[0] is a and list(model)[2] is b


def test_importing_nn_does_not_import_torch_or_numpy() -> None:
    code = "import sys, nn, nn.demo; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
