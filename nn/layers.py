"""``Neuron``, ``Layer`` and ``MLP``: the lecture's network, with seeded initialisation.

A neuron computes ``act(w0*x0 + w1*x1 + ... + b)`` as a left fold that starts from the first
product, so a forward pass builds no node it does not need. A layer always returns a list (so a
one-neuron *hidden* layer feeds the next layer); only ``MLP`` unwraps a one-element output to a
bare ``Value``, as the lecture's ``loss = sum((yout - ygt)**2 ...)`` expects.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

from vetgrad.engine import Value
from vetgrad.nn.activations import activation_fn, check_activation, check_slope, describe
from vetgrad.nn.init import RandomLike, draw, init_bound, make_rng
from vetgrad.nn.module import Module, indent_repr


def _check_size(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


def as_inputs(x: Any, nin: int, owner: object) -> list[Value]:
    """Check an input vector for ``owner`` (named in errors) and return it as a list of Values;
    numbers become leaves here, once, so that every neuron of a layer shares them."""
    if isinstance(x, (Value, numbers.Real)) and not isinstance(x, bool):
        x = [x]  # a bare scalar is a length-1 input
    elif isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"{owner!r} takes a list of {nin} numbers or Values, "
                        f"got {type(x).__name__}")
    if len(x) != nin:
        raise ValueError(f"{owner!r} expects {nin} input{'s' if nin != 1 else ''}, "
                         f"got {len(x)}")
    out = []
    for i, v in enumerate(x):
        if not isinstance(v, Value):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{owner!r}: input {i} must be a number or Value, "
                                f"got {type(v).__name__}: {v!r}")
            v = Value(float(v))
        out.append(v)
    return out


class Neuron(Module):
    """One unit: ``activation(sum_i w_i * x_i + b)`` with ``nin`` weights ``w`` and a bias ``b``.

    ``activation`` is one of tanh (the lecture's choice and the default), relu, sigmoid,
    leaky_relu (slope ``negative_slope``) or linear. Weights are drawn before the bias from
    ``init`` (``"uniform"``: U(-1, 1) as in the lecture; ``"kaiming_uniform"``: torch's
    ``nn.Linear`` default) using ``rng``, or ``random.Random(seed)``, or the global ``random``.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        *,
        negative_slope: float = 0.01,
        init: str = "uniform",
        seed: int | None = None,
        rng: RandomLike | None = None,
    ) -> None:
        self.nin = _check_size(nin, "nin")
        self.activation = check_activation(activation)
        self.negative_slope = check_slope(negative_slope)
        bound = init_bound(init, self.nin)
        source = make_rng(seed, rng)
        self.w = [Value(x) for x in draw(source, bound, self.nin)]
        self.b = Value(draw(source, bound, 1)[0])
        self._act = activation_fn(self.activation, self.negative_slope)

    def __call__(self, x: Sequence[Any]) -> Value:
        return self._forward(as_inputs(x, self.nin, self))

    def _forward(self, x: list[Value]) -> Value:
        w = self.w
        act = w[0] * x[0]
        for i in range(1, len(w)):
            act = act + w[i] * x[i]
        act = act + self.b
        fn = self._act
        return act if fn is None else fn(act)

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, {describe(self.activation, self.negative_slope)})"


class Layer(Module):
    """``nout`` neurons that see the same ``nin`` inputs; returns a list of ``nout`` Values
    (also when ``nout == 1``). Arguments as for :class:`Neuron`; the neurons are initialised in
    order from one random source."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        *,
        negative_slope: float = 0.01,
        init: str = "uniform",
        seed: int | None = None,
        rng: RandomLike | None = None,
    ) -> None:
        self.nin = _check_size(nin, "nin")
        self.nout = _check_size(nout, "nout")
        self.activation = check_activation(activation)
        self.negative_slope = check_slope(negative_slope)
        source = make_rng(seed, rng)
        self.neurons = [
            Neuron(self.nin, self.activation, negative_slope=self.negative_slope, init=init,
                   rng=source)
            for _ in range(self.nout)
        ]

    def __call__(self, x: Sequence[Any]) -> list[Value]:
        return self._forward(as_inputs(x, self.nin, self))

    def _forward(self, x: list[Value]) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, {describe(self.activation, self.negative_slope)})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(3, [4, 4, 1])`` maps 3 inputs through layers of 4, 4 and 1
    neurons. Hidden layers use ``activation``; the last layer uses ``final_activation`` (default:
    the same, as in the lecture; pass ``"linear"`` for raw scores). Calling it returns a list of
    Values, or a single Value when the last layer has one neuron."""

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        final_activation: str | None = None,
        *,
        negative_slope: float = 0.01,
        init: str = "uniform",
        seed: int | None = None,
        rng: RandomLike | None = None,
    ) -> None:
        self.nin = _check_size(nin, "nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.nouts = [_check_size(n, f"nouts[{i}]") for i, n in enumerate(nouts)]
        self.activation = check_activation(activation)
        self.final_activation = check_activation(
            activation if final_activation is None else final_activation, "final_activation")
        self.negative_slope = check_slope(negative_slope)
        source = make_rng(seed, rng)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1],
                  self.final_activation if i == last else self.activation,
                  negative_slope=self.negative_slope, init=init, rng=source)
            for i in range(len(self.nouts))
        ]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        layers = self.layers
        x = layers[0]._forward(as_inputs(x, self.nin, layers[0]))
        for layer in layers[1:]:
            x = layer._forward(x)
        return x[0] if len(x) == 1 else x

    def __repr__(self) -> str:
        return indent_repr("MLP", ((str(i), layer) for i, layer in enumerate(self.layers)))
