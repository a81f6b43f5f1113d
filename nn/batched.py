"""``batched_step``: an MLP's training step over a whole batch as matrix products, with numpy.

>>> from vetgrad.nn import MLP, SGD, batched_step, mse_loss
>>> model = MLP(2, [4, 1], activation="relu", final_activation="linear", seed=0)
>>> step = batched_step(model, mse_loss)          # needs numpy (pip install numpy)
>>> opt = SGD(model.parameters(), lr=0.1)
>>> opt.zero_grad()
>>> loss = step([[0.5, -1.0], [1.5, 2.0]], [1.0, -1.0])   # a float; grads are in .grad
>>> opt.step()

Each layer of neurons is a matrix: a call reads the weights from the parameters' ``.data`` (the
optimizer may have changed them), computes ``Z = X @ W.T + b``, the activation, the loss, and the
backward pass as matrix products (``dW = dZ.T @ X``, ``db = dZ.sum(0)``, ``dX = dZ @ W``), then
writes each gradient into its parameter's ``.grad`` as ``backward()`` does (assigned when unset,
added to a set one), so every optimizer works unchanged.

Per element it follows torch and the eager engine exactly: relu keeps -0.0 and nan and its
gradient is 0 where the output is <= 0 (relu'(0) = 0), leaky_relu's gradient is the slope at 0,
tanh's gradient is ``(1 - y)(1 + y)``, sigmoid's ``(1 - s) s``, and mse's gradient is computed as
the engine's graph computes it. What differs is the order of summation: a matrix product (BLAS)
sums a neuron's products and a weight's per-sample contributions in its own order, blocked and
with fused multiply-adds, where the engine folds left to right; results agree to rounding, not bit
for bit (tests/test_nn_batched.py states the tolerance).

Supported: :class:`nn.MLP`, :class:`nn.Layer`, and :class:`nn.Sequential` of Layers and
activation modules, with the activations tanh, relu, sigmoid, leaky_relu and linear; losses
:func:`nn.mse_loss` and :func:`nn.hinge_loss` (reduction mean or sum, via ``functools.partial``
as for any nn loss). Anything else is refused, naming what is unsupported.
"""

from __future__ import annotations

import functools
import itertools
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from vetgrad.engine import Value
from vetgrad.engine.backprop import UNSET
from vetgrad.nn.activations import Activation
from vetgrad.nn.layers import MLP, Layer
from vetgrad.nn.losses import hinge_loss, mse_loss
from vetgrad.nn.module import Module, Sequential

SUPPORTED_LOSSES = ("mse_loss", "hinge_loss")


def numpy() -> Any:
    """numpy, imported on first use; ImportError saying what to install when it is missing."""
    try:
        import numpy as np
    except ImportError as exc:
        from vetgrad._extras import install_hint

        raise ImportError("nn.batched_step needs numpy, which is not installed: "
                          + install_hint(packages=["numpy"])) from exc
    return np


@dataclass
class _Dense:
    """One layer of neurons: its parameters in order (per neuron: weights, then bias)."""

    nin: int
    nout: int
    params: list[Value]
    activation: str = "linear"
    slope: float = 0.01


def _layer(layer: Layer, where: str) -> _Dense:
    params: list[Value] = []
    for j, n in enumerate(layer.neurons):
        if len(n.w) != layer.nin:
            raise ValueError(f"batched_step: {where}.neurons.{j} has {len(n.w)} weights, its layer "
                             f"{layer.nin} inputs")
        if (n.activation, n.negative_slope) != (layer.activation, layer.negative_slope):
            raise ValueError(f"batched_step: {where}.neurons.{j} has activation "
                             f"{n.activation!r}, its layer {layer.activation!r}: the neurons of "
                             "a layer must share one activation")
        params += [*n.w, n.b]
    return _Dense(layer.nin, len(layer.neurons), params, layer.activation, layer.negative_slope)


def _dense_layers(model: Module) -> list[_Dense]:
    """The model as dense layers; ValueError/TypeError naming what is not supported."""
    if isinstance(model, MLP):
        layers = [_layer(layer, f"layers.{i}") for i, layer in enumerate(model.layers)]
    elif isinstance(model, Layer):
        layers = [_layer(model, "layer")]
    elif isinstance(model, Sequential):
        layers = []
        for i, m in enumerate(model):
            if isinstance(m, Layer):
                layers.append(_layer(m, f"[{i}]"))
            elif isinstance(m, Activation) and layers and layers[-1].activation == "linear":
                layers[-1].activation = m.name
                layers[-1].slope = getattr(m, "negative_slope", 0.01)
            elif isinstance(m, Activation) and m.name == "linear":
                continue
            else:
                what = ("an activation with no linear layer right before it"
                        if isinstance(m, Activation) else type(m).__name__)
                raise ValueError(f"batched_step: Sequential item {i} is {what}; supported: "
                                 "Layers, each followed by at most one activation")
        if not layers:
            raise ValueError("batched_step: the Sequential has no Layer")
    else:
        raise TypeError(f"batched_step supports nn.MLP, nn.Layer and nn.Sequential of Layers and "
                        f"activations, not {type(model).__name__}")
    for a, b in itertools.pairwise(layers):
        if a.nout != b.nin:
            raise ValueError(f"batched_step: a layer of {a.nout} outputs feeds a layer of "
                             f"{b.nin} inputs")
    ids = [id(p) for d in layers for p in d.params]
    if len(set(ids)) != len(ids):
        raise ValueError("batched_step: the model shares a parameter between neurons; "
                         "use the eager or compiled step")
    return layers


def _loss(loss_fn: Callable[..., Any]) -> tuple[str, str, float]:
    """(name, reduction, margin) of a supported loss; ValueError naming an unsupported one."""
    kwargs: dict[str, Any] = {}
    base = loss_fn
    if isinstance(loss_fn, functools.partial):
        if loss_fn.args:
            raise ValueError("batched_step: give a partial loss keyword arguments only "
                             "(reduction=, margin=)")
        base, kwargs = loss_fn.func, dict(loss_fn.keywords)
    name = next((n for n, f in (("mse_loss", mse_loss), ("hinge_loss", hinge_loss))
                 if base is f), None)
    if name is None:
        shown = getattr(base, "__name__", type(base).__name__)
        raise ValueError(f"batched_step supports the losses {', '.join(SUPPORTED_LOSSES)}, "
                         f"not {shown}")
    allowed = {"reduction"} | ({"margin"} if name == "hinge_loss" else set())
    extra = sorted(set(kwargs) - allowed)
    if extra:
        raise ValueError(f"batched_step: {name} with {', '.join(extra)} is not supported")
    reduction = kwargs.get("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"batched_step: reduction {reduction!r} is not supported (mean, sum)")
    margin = kwargs.get("margin", 1.0)
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"batched_step: margin must be a real number, got {margin!r}")
    return name, reduction, float(margin)


class BatchedStep:
    """A training step of an MLP on a whole batch, with numpy: ``step(inputs, targets) -> loss``
    (a float), gradients written into the parameters' ``.grad``."""

    def __init__(self, model: Module, loss_fn: Callable[..., Any] = mse_loss) -> None:
        self.np = numpy()
        self.model = model
        self.layers = _dense_layers(model)
        self.loss, self.reduction, self.margin = _loss(loss_fn)
        self.params = [p for d in self.layers for p in d.params]
        self._cuts = []  # (start, stop) of each layer in the flat parameter vector
        start = 0
        for d in self.layers:
            self._cuts.append((start, start + d.nout * (d.nin + 1)))
            start += d.nout * (d.nin + 1)

    def _batch(self, inputs: Any, targets: Any) -> tuple[Any, Any]:
        np = self.np
        first, last = self.layers[0], self.layers[-1]
        try:
            x = np.asarray(inputs, dtype=np.float64)
            y = np.asarray(targets, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"batched_step: inputs and targets must be numbers in rectangular "
                            f"lists or arrays ({exc})") from None
        if x.ndim == 1 and first.nin == 1:
            x = x.reshape(-1, 1)
        if x.ndim != 2 or x.shape[1] != first.nin or x.shape[0] == 0:
            raise ValueError(f"batched_step: inputs must have shape (batch, {first.nin}), got "
                             f"{x.shape}")
        if y.size != x.shape[0] * last.nout:
            raise ValueError(f"batched_step: {x.shape[0]} samples of {last.nout} output(s) need "
                             f"{x.shape[0] * last.nout} targets, got shape {y.shape}")
        return x, y.reshape(x.shape[0], last.nout)

    def __call__(self, inputs: Any, targets: Any) -> float:
        """One step on this batch: the loss; the gradients are added into ``.grad``."""
        np = self.np
        x, y = self._batch(inputs, targets)
        flat = np.array([p.data for p in self.params])
        mats = [flat[a:b].reshape(d.nout, d.nin + 1) for (a, b), d in zip(self._cuts, self.layers)]
        acts = [x]  # each layer's input, then the output
        pre = []  # pre-activations (leaky_relu's gradient reads them)
        with np.errstate(over="ignore", invalid="ignore"):
            for d, m in zip(self.layers, mats):
                z = acts[-1] @ m[:, :-1].T + m[:, -1]
                pre.append(z)
                acts.append(_forward(np, d, z))
            loss, g = self._loss_and_grad(acts[-1], y)
            grads = []
            for k in range(len(self.layers) - 1, -1, -1):
                d = self.layers[k]
                gz = _backward(np, d, g, pre[k], acts[k + 1])
                gm = np.empty((d.nout, d.nin + 1))
                gm[:, :-1] = gz.T @ acts[k]
                gm[:, -1] = gz.sum(axis=0)
                grads.append(gm.ravel())
                if k:
                    g = gz @ mats[k][:, :-1]
        unset = UNSET
        for p, gp in zip(self.params, np.concatenate(grads[::-1]).tolist()):
            old = p.grad
            p.grad = gp if old is unset or old is None else old + gp
        return loss

    def _loss_and_grad(self, out: Any, y: Any) -> tuple[float, Any]:
        """The loss and its gradient with respect to the outputs, in the engine's operations."""
        np = self.np
        scale = 1.0 / out.size if self.reduction == "mean" else 1.0
        if self.loss == "mse_loss":
            d = out - y
            total = float((d * d).sum())
            gd = scale * d
            g = gd + gd  # d * d: each operand gets g * d, summed (2 g d exactly)
        else:
            u = self.margin - y * out
            r = np.where(u < 0.0, 0.0, u)
            total = float(r.sum())
            g = -np.where(r <= 0.0, 0.0, scale) * y
        return (total / out.size if self.reduction == "mean" else total), g

    def __repr__(self) -> str:
        sizes = [self.layers[0].nin, *(d.nout for d in self.layers)]
        return f"<batched step of {type(self.model).__name__} {sizes}, {self.loss}>"


def _forward(np: Any, d: _Dense, z: Any) -> Any:
    act = d.activation
    if act == "relu":
        return np.where(z < 0.0, 0.0, z)  # as the engine's relu: keeps -0.0 and nan
    if act == "tanh":
        return np.tanh(z)
    if act == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if act == "leaky_relu":
        return np.where(z > 0.0, z, z * d.slope)
    return z


def _backward(np: Any, d: _Dense, g: Any, z: Any, out: Any) -> Any:
    act = d.activation
    if act == "relu":
        return np.where(out <= 0.0, 0.0, g)  # threshold_backward: relu'(0) = 0
    if act == "tanh":
        return g * ((1.0 - out) * (1.0 + out))
    if act == "sigmoid":
        return g * (1.0 - out) * out
    if act == "leaky_relu":
        return np.where(z > 0.0, g, g * d.slope)
    return g


def batched_step(model: Module, loss_fn: Callable[..., Any] = mse_loss) -> BatchedStep:
    """A training step of ``model`` (an MLP: see the module's docstring) on whole batches with
    numpy: ``step(inputs, targets)`` computes ``loss_fn`` over the batch and its gradients as
    matrix products, writes them into the parameters' ``.grad`` and returns the loss (a float)."""
    return BatchedStep(model, loss_fn)
