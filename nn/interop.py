"""``to_torch`` / ``from_torch``: the same network as a ``torch.nn.Sequential`` and back.

torch is imported only when one of these is called; without it they raise an ImportError that
says how to install it. A vetgrad ``Layer`` is a ``torch.nn.Linear`` (weight row i = neuron i's
``w``, bias[i] = its ``b``) followed by its activation module (none for ``linear``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from vetgrad.nn.activations import MODULE_FOR, TORCH_MODULE, Activation, LeakyReLU
from vetgrad.nn.layers import MLP, Layer, Neuron
from vetgrad.nn.module import Module, Sequential


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        from vetgrad._extras import install_hint

        raise ImportError("to_torch/from_torch need PyTorch, which is not installed: "
                          + install_hint(packages=["torch"])) from exc
    return torch


def _torch_activation(torch: Any, name: str, slope: float) -> Any:
    if name == "linear":
        return None
    cls = getattr(torch.nn, TORCH_MODULE[name])
    return cls(slope) if name == "leaky_relu" else cls()


def _linear(torch: Any, rows: list[list[float]], bias: list[float], dtype: Any) -> Any:
    # skip_init: no draw from torch's global generator (converting must not shift user's RNG).
    lin = torch.nn.utils.skip_init(torch.nn.Linear, len(rows[0]), len(rows), dtype=dtype)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(rows, dtype=dtype))
        lin.bias.copy_(torch.tensor(bias, dtype=dtype))
    return lin


def _parts(torch: Any, module: Module, dtype: Any, made: dict[int, Any]) -> list[Any]:
    """torch modules for ``module``; ``made`` maps each converted Layer/Neuron to its Linear."""
    if isinstance(module, MLP):
        return [part for layer in module.layers for part in _parts(torch, layer, dtype, made)]
    if isinstance(module, Sequential):
        return [part for child in module for part in _parts(torch, child, dtype, made)]
    if isinstance(module, (Layer, Neuron)):
        neurons = module.neurons if isinstance(module, Layer) else [module]
        lin = made.get(id(module))
        if lin is None:
            lin = made[id(module)] = _linear(torch, [[w.data for w in n.w] for n in neurons],
                                             [n.b.data for n in neurons], dtype)
        act = _torch_activation(torch, module.activation, module.negative_slope)
        return [lin] if act is None else [lin, act]
    if isinstance(module, Activation):
        act = _torch_activation(torch, module.name, getattr(module, "negative_slope", 0.01))
        return [torch.nn.Identity() if act is None else act]
    raise TypeError(f"to_torch cannot convert {type(module).__name__}; it converts MLP, "
                    "Sequential, Layer, Neuron and activation modules")


def to_torch(module: Module, dtype: Any = None) -> Any:
    """A ``torch.nn.Sequential`` computing the same function with the same weights (float64
    unless ``dtype`` says otherwise). A Neuron becomes a ``Linear(nin, 1)``; a layer used twice
    becomes one ``Linear`` used twice, so tied weights stay tied."""
    torch = _torch()
    if not isinstance(module, Module):
        raise TypeError(f"to_torch needs a vetgrad Module, got {type(module).__name__}")
    return torch.nn.Sequential(*_parts(torch, module, torch.float64 if dtype is None else dtype, {}))


def _activation_of(torch: Any, m: Any) -> tuple[str, float] | None:
    for name, cls in TORCH_MODULE.items():
        if isinstance(m, getattr(torch.nn, cls)):
            return name, float(m.negative_slope) if name == "leaky_relu" else 0.01
    return None


def _flatten(torch: Any, module: Any) -> list[Any]:
    if isinstance(module, torch.nn.Sequential):
        return [m for child in module for m in _flatten(torch, child)]
    return [module]


def from_torch(module: Any) -> MLP | Sequential:
    """The vetgrad network equal to a ``torch.nn.Linear`` or a ``torch.nn.Sequential`` of Linear
    layers and Tanh/ReLU/Sigmoid/LeakyReLU/Identity modules. Returns an ``MLP`` when the network
    is one (every hidden layer has the same activation), else a ``Sequential`` of ``Layer`` and
    activation modules."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, (nn.Linear, nn.Sequential)):
        raise TypeError(f"from_torch converts torch.nn.Linear or torch.nn.Sequential, "
                        f"got {type(module).__name__}")
    items = _flatten(torch, module)
    specs: list[Any] = []  # dicts for Linear(+activation), (name, slope) for a lone activation
    i = 0
    while i < len(items):
        m = items[i]
        if isinstance(m, nn.Linear):
            if m.in_features < 1 or m.out_features < 1:
                raise ValueError(f"from_torch: {m} is empty; vetgrad layers need >= 1 in and out")
            if m.bias is None:
                raise ValueError(f"from_torch: {m} has no bias; vetgrad neurons always have one")
            spec = {"weight": m.weight.detach().to("cpu", torch.float64).tolist(),
                    "bias": m.bias.detach().to("cpu", torch.float64).tolist(),
                    "activation": "linear", "slope": 0.01}
            nxt = _activation_of(torch, items[i + 1]) if i + 1 < len(items) else None
            if nxt is not None:
                spec["activation"], spec["slope"] = nxt
                i += 1
            specs.append(spec)
        else:
            act = _activation_of(torch, m)
            if act is None:
                raise TypeError(f"from_torch cannot convert {type(m).__name__} (item {i}); it "
                                "converts Linear, Tanh, ReLU, Sigmoid, LeakyReLU and Identity")
            specs.append(act)
        i += 1
    layers = [s for s in specs if isinstance(s, dict)]
    if not layers:
        raise ValueError("from_torch: the module has no Linear layer")
    for a, b in pairwise(layers):
        if len(b["weight"][0]) != len(a["weight"]):
            raise ValueError(f"from_torch: a Linear with {len(a['weight'])} outputs feeds one "
                             f"with {len(b['weight'][0])} inputs")
    slopes = {s["slope"] for s in layers if s["activation"] == "leaky_relu"}
    hidden = {s["activation"] for s in layers[:-1]}
    if len(layers) == len(specs) and len(hidden) <= 1 and len(slopes) <= 1:
        final = layers[-1]["activation"]
        net: MLP | Sequential = MLP(
            len(layers[0]["weight"][0]), [len(s["weight"]) for s in layers],
            hidden.pop() if hidden else final, final,
            negative_slope=slopes.pop() if slopes else 0.01, seed=0)
        targets = net.layers
    else:
        parts: list[Module] = []
        for s in specs:
            if isinstance(s, dict):
                parts.append(Layer(len(s["weight"][0]), len(s["weight"]), s["activation"],
                                   negative_slope=s["slope"], seed=0))
            else:
                name, slope = s
                parts.append(LeakyReLU(slope) if name == "leaky_relu" else MODULE_FOR[name]())
        net = Sequential(*parts)
        targets = [p for p in parts if isinstance(p, Layer)]
    for layer, s in zip(targets, layers):
        for neuron, row, b in zip(layer.neurons, s["weight"], s["bias"]):
            for w, x in zip(neuron.w, row):
                w.data = x
            neuron.b.data = b
    return net
