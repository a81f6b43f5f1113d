"""Activation functions by name, and as modules for :class:`nn.module.Sequential`.

One table maps each name a user may pass (``activation="tanh"``) to what it does to a ``Value``;
layers, the activation modules and the torch interop all read it.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

from vetgrad.engine import Value
from vetgrad.nn.module import Module

ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")
"""Names accepted wherever an activation is asked for; ``linear`` means none (identity)."""

_METHOD: dict[str, Callable[[Value], Value]] = {
    "tanh": Value.tanh,
    "relu": Value.relu,
    "sigmoid": Value.sigmoid,
}


def check_activation(name: Any, what: str = "activation") -> str:
    """Return ``name`` if it is a known activation, else raise a ValueError listing the choices."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str (one of {', '.join(ACTIVATIONS)}), "
                        f"got {type(name).__name__}: {name!r}")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def check_slope(slope: Any) -> float:
    """The leaky_relu ``negative_slope`` as a float (any real number, as torch allows)."""
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
        raise TypeError(f"negative_slope must be a real number, got {type(slope).__name__}")
    return float(slope)


def activation_fn(name: str, negative_slope: float = 0.01) -> Callable[[Value], Value] | None:
    """The function applying activation ``name`` to one Value; None for ``linear``."""
    check_activation(name)
    if name == "linear":
        return None
    if name == "leaky_relu":
        return lambda v: v.leaky_relu(negative_slope)
    return _METHOD[name]


def describe(name: str, negative_slope: float) -> str:
    """``activation='tanh'``, with the slope shown for leaky_relu (for reprs)."""
    text = f"activation={name!r}"
    return text + f", negative_slope={negative_slope!r}" if name == "leaky_relu" else text


class Activation(Module):
    """Applies an activation to every element of a list of Values (or to a single Value)."""

    name = "linear"

    def __init__(self) -> None:
        self._fn = activation_fn(self.name, getattr(self, "negative_slope", 0.01))

    def __call__(self, x: Any) -> Any:
        fn = self._fn
        if isinstance(x, (list, tuple)):
            return x if fn is None else [fn(_as_value(v)) for v in x]
        return x if fn is None else fn(_as_value(x))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _as_value(x: Any) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"activations take Values or real numbers, got {type(x).__name__}: {x!r}")
    return Value(float(x))


class Tanh(Activation):
    """Elementwise tanh (``torch.nn.Tanh``)."""

    name = "tanh"


class ReLU(Activation):
    """Elementwise max(x, 0) (``torch.nn.ReLU``)."""

    name = "relu"


class Sigmoid(Activation):
    """Elementwise logistic function (``torch.nn.Sigmoid``)."""

    name = "sigmoid"


class Identity(Activation):
    """Passes its input through (``torch.nn.Identity``)."""

    name = "linear"


class LeakyReLU(Activation):
    """Elementwise ``x if x > 0 else negative_slope * x`` (``torch.nn.LeakyReLU``)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = check_slope(negative_slope)
        super().__init__()

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope!r})"


MODULE_FOR: dict[str, type[Activation]] = {
    "tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "linear": Identity,
}
"""The activation module class for each activation name."""

TORCH_MODULE: dict[str, str] = {name: cls.__name__ for name, cls in MODULE_FOR.items()}
"""The ``torch.nn`` module class for each activation name (nn/interop.py converts both ways)."""
