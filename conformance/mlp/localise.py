"""Where the learner's network differs, in words: their layers and neurons called one at a time
(the lecture's attribute names ``layers``, ``neurons``, ``w``, ``b``, when present), each
neuron's output set against ``act(w·x + b)`` and the bugs learners write (the bias dropped, added
twice), and ``parameters()`` against the numbers the model holds."""

from __future__ import annotations

import math
from typing import Any, Sequence

from vetgrad.conformance.mlp.layout import REL, Shape, worst
from vetgrad.conformance.mlp.learner import LearnerError, call, number
from vetgrad.conformance.mlp.torch_net import ACTIVATIONS


def parts(model: Any) -> list[list[Any]] | None:
    """``model.layers[i].neurons[j]`` with ``.w`` (a list) and ``.b``; None when the model is
    not built with the lecture's names."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, (list, tuple)) or not layers:
        return None
    out = []
    for layer in layers:
        neurons = getattr(layer, "neurons", None)
        if not isinstance(neurons, (list, tuple)) or not neurons:
            return None
        for n in neurons:
            if not isinstance(getattr(n, "w", None), (list, tuple)) or not hasattr(n, "b"):
                return None
        out.append(list(neurons))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def count_message(model: Any, shape: Shape, params: Sequence[Any]) -> str:
    """Why ``parameters()`` does not hold the model's numbers: which are missing, listed twice or
    not the model's, by the lecture's names when the model has them."""
    have = len(params)
    head = f"parameters() holds {have} of the model's {shape.numbers} numbers"
    layers = parts(model)
    if layers is None:
        if have == shape.weights:
            return (f"{head} ({shape} has {shape.weights} weights and "
                    f"{shape.numbers - shape.weights} biases): as many as the weights, the biases "
                    f"are missing?")
        return f"{head} ({shape} has {shape.weights} weights and {shape.numbers - shape.weights} biases)"
    listed = [id(p) for p in params]
    seen = set(listed)
    twice = len(listed) - len(seen)
    missing_w: list[str] = []
    missing_b: list[str] = []
    for i, neurons in enumerate(layers):
        for j, n in enumerate(neurons):
            if any(id(w) not in seen for w in n.w):
                missing_w.append(f"layer {i}, neuron {j}")
            if id(n.b) not in seen:
                missing_b.append(f"layer {i}, neuron {j}")
    total = sum(len(neurons) for neurons in layers)
    said = []
    if missing_b and len(missing_b) == total:
        said.append("the biases are missing (every neuron's b): Neuron.parameters() must "
                    "return self.w + [self.b]")
    elif missing_b:
        said.append(f"the bias of {', '.join(missing_b[:3])}{' ...' if len(missing_b) > 3 else ''} "
                    f"is missing")
    if missing_w and len(missing_w) == total:
        said.append("the weights are missing (every neuron's w)")
    elif missing_w:
        said.append(f"weights of {', '.join(missing_w[:3])}{' ...' if len(missing_w) > 3 else ''} "
                    f"are missing")
    if twice:
        said.append(f"{_plural(twice, 'number')} listed twice")
    model_ids = {id(w) for neurons in layers for n in neurons for w in [*n.w, n.b]}
    foreign = sum(1 for p in seen if p not in model_ids)
    if foreign:
        said.append(f"{_plural(foreign, 'Value')} that no neuron holds")
    if not said:
        said.append("a layer or neuron is left out")
    return f"{head}: {'; '.join(said)}"


def _act(name: str, t: float) -> float:
    if name == "tanh":
        return math.tanh(t)
    if name == "relu":
        return max(t, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-t)) if t > -700 else 0.0
    return t


# what a neuron's output may be, besides act(w·x + b): (words, pre-activation from w·x and b)
_BUGS = (
    ("{act}w·x without the bias", lambda wx, b: wx),
    ("{act}w·x + 2b: the bias added twice", lambda wx, b: wx + 2 * b),
    ("{act}w·x - b: the bias subtracted", lambda wx, b: wx - b),
)


def _say(act: str, words: str) -> str:
    if act == "linear":
        return words.replace("{act}", "")
    body, _, rest = words.partition(": ")
    body = body.replace("{act}", "")
    inner, _, tail = body.partition(" without")
    text = f"{act}({inner})" + (f" without{tail}" if tail else "")
    return text + (f": {rest}" if rest else "")


def _neuron_check(layer: int, j: int, neuron: Any, inputs: Sequence[Sequence[float]]
                  ) -> tuple[str | None, str | None]:
    """(activation that explains the neuron, or None; what it computes instead, in words)."""
    outs = []
    for x in inputs:
        try:
            outs.append(number(call(f"layer {layer}, neuron {j}", neuron, list(x))))
        except LearnerError as exc:
            return None, f"layer {layer}, neuron {j}: calling it raises {exc.text}" + (
                f" ({exc.where})" if exc.where else "")
        except TypeError as exc:
            return None, f"layer {layer}, neuron {j}: its output is no number ({exc})"
    w = [number(v) for v in neuron.w]
    b = number(neuron.b)
    wx = [math.fsum(wi * xi for wi, xi in zip(w, x)) for x in inputs]
    for act in ACTIVATIONS:
        if worst(outs, [_act(act, t + b) for t in wx]) <= REL:
            return act, None
    for words, pre in _BUGS:
        for act in ACTIVATIONS:
            if worst(outs, [_act(act, pre(t, b)) for t in wx]) <= REL:
                return None, f"layer {layer}, neuron {j}: the output is {_say(act, words)}"
    ref = ", ".join(f"{act}: {_act(act, wx[0] + b):.6g}" for act in ACTIVATIONS)
    return None, (f"layer {layer}, neuron {j}: the output {outs[0]:.6g} (first input) is no "
                  f"act(w·x + b) of its own w and b ({ref})")


def forward_message(model: Any, inputs: Sequence[Sequence[float]]) -> tuple[str | None, list[str] | None]:
    """The first neuron (then layer) whose output differs, in words, calling each on the outputs
    of the layer before it as their code computed them; or (None, acts per layer) when every
    neuron is some act(w·x + b) and the layers chain; (None, None) without the lecture's names."""
    layers = parts(model)
    if layers is None:
        return None, None
    acts: list[str] = []
    h = [list(x) for x in inputs]
    for i, neurons in enumerate(layers):
        found = []
        for j, n in enumerate(neurons):
            act, wrong = _neuron_check(i, j, n, h)
            if wrong:
                return wrong, None
            found.append(act)
        if len(set(found)) > 1:
            return (f"layer {i}: its neurons apply different activations "
                    f"({', '.join(f'neuron {j}: {a}' for j, a in enumerate(found))})"), None
        acts.append(found[0])
        nxt = []
        for x in h:
            try:
                out = call(f"layer {i}", model.layers[i], list(x))
            except LearnerError as exc:
                return f"layer {i}: calling it raises {exc.text} ({exc.where})", None
            out = out if isinstance(out, (list, tuple)) else [out]
            nxt.append([number(v) for v in out])
        want = [[number(call(f"layer {i}, neuron {j}", n, list(x))) for j, n in enumerate(neurons)]
                for x in h]
        if worst([v for r in nxt for v in r], [v for r in want for v in r]) > REL:
            return f"layer {i}: its output is not its neurons' outputs in order", None
        h = nxt
    return None, acts


def raise_message(model: Any, x: Sequence[float], exc: LearnerError) -> str:
    """Why the forward raises: the first layer that raises when called one at a time, and what
    the layer before it returned (micrograd's trap: a bare Value for a one-neuron hidden layer)."""
    layers = getattr(model, "layers", None)
    base = f"the forward model({list(x)}) raises {exc.text}" + (f" ({exc.where})" if exc.where else "")
    if not isinstance(layers, (list, tuple)):
        return base
    h: Any = list(x)
    for i, layer in enumerate(layers):
        try:
            out = call(f"layer {i}", layer, h)
        except LearnerError as inner:
            if i and not isinstance(h, (list, tuple)):
                return (f"layer {i} raises {inner.text} ({inner.where}): layer {i - 1} returns a bare "
                        f"{type(h).__name__} for its one neuron, where layer {i} expects a list "
                        f"(return a list from a hidden layer; unwrap only the model's last output)")
            return f"layer {i} raises {inner.text}" + (f" ({inner.where})" if inner.where else "")
        h = out
    return base
