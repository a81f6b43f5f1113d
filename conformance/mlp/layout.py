"""How the learner's flat ``parameters()`` maps onto torch's layers, and which activation each
layer applies: every order people write and every activation tried, the first combination that
reproduces their forward outputs kept (the lecture's order and tanh first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from vetgrad.conformance.mlp.torch_net import ACTIVATIONS, Net

# Where one number of parameters() sits: (layer, neuron, k), k the input's index, -1 the bias.
Slot = tuple[int, int, int]

ORDERS = {
    "neuron": "per neuron: weights then bias",
    "neuron-bias-first": "per neuron: bias then weights",
    "layer": "per layer: the weight matrix row by row, then the biases (torch's order)",
    "layer-by-input": "per layer: the weight matrix input by input (W transposed), then the biases",
}
REL, FLOOR = 5e-7, 1e-12  # docs/ladder.md M1: a relative 1e-6 is a failure; half of it the bound


@dataclass(frozen=True)
class Shape:
    """``MLP(nin, nouts)``."""

    nin: int
    nouts: tuple[int, ...]

    @property
    def sizes(self) -> list[int]:
        return [self.nin, *self.nouts]

    @property
    def numbers(self) -> int:
        s = self.sizes
        return sum((s[i] + 1) * s[i + 1] for i in range(len(self.nouts)))

    @property
    def weights(self) -> int:
        s = self.sizes
        return sum(s[i] * s[i + 1] for i in range(len(self.nouts)))

    def __str__(self) -> str:
        return f"MLP({self.nin}, {list(self.nouts)})"


def slots(shape: Shape, order: str) -> list[Slot]:
    out: list[Slot] = []
    s = shape.sizes
    for layer in range(len(shape.nouts)):
        nin, nout = s[layer], s[layer + 1]
        if order == "neuron":
            out += [(layer, j, k) for j in range(nout) for k in [*range(nin), -1]]
        elif order == "neuron-bias-first":
            out += [(layer, j, k) for j in range(nout) for k in [-1, *range(nin)]]
        elif order == "layer":
            out += [(layer, j, k) for j in range(nout) for k in range(nin)]
            out += [(layer, j, -1) for j in range(nout)]
        elif order == "layer-by-input":
            out += [(layer, j, k) for k in range(nin) for j in range(nout)]
            out += [(layer, j, -1) for j in range(nout)]
        else:
            raise ValueError(f"unknown order {order!r}")
    return out


def slot_name(slot: Slot) -> str:
    layer, j, k = slot
    return f"layer {layer}, neuron {j}, {'bias' if k < 0 else f'weight {k}'}"


def unflatten(shape: Shape, order: str, flat: Sequence[float]
              ) -> tuple[list[list[list[float]]], list[list[float]]]:
    """Weight rows and biases per layer from the flat numbers in ``order``."""
    s = shape.sizes
    rows = [[[0.0] * s[i] for _ in range(s[i + 1])] for i in range(len(shape.nouts))]
    biases = [[0.0] * s[i + 1] for i in range(len(shape.nouts))]
    for (layer, j, k), x in zip(slots(shape, order), flat):
        if k < 0:
            biases[layer][j] = x
        else:
            rows[layer][j][k] = x
    return rows, biases


def flatten(shape: Shape, order: str, rows: Sequence[Sequence[Sequence[float]]],
            biases: Sequence[Sequence[float]]) -> list[float]:
    """Per-layer weight rows and biases as one list in the learner's parameter ``order``."""
    return [biases[layer][j] if k < 0 else rows[layer][j][k] for layer, j, k in slots(shape, order)]


def worst(mine: Sequence[float], ref: Sequence[float], scale: float | None = None) -> float:
    """The largest relative difference (to each number, floored at 1e-3 of the vector's scale)."""
    if len(mine) != len(ref):
        return float("inf")
    big = max((abs(r) for r in ref), default=0.0) if scale is None else scale
    out = 0.0
    for a, b in zip(mine, ref):
        if a != a or b != b:
            if not (a != a and b != b):
                return float("inf")
            continue
        d = abs(a - b) / max(abs(b), 1e-3 * big, FLOOR)
        out = max(out, d)
    return out


@dataclass(frozen=True)
class Layout:
    order: str
    acts: tuple[str, ...]

    def describe(self) -> str:
        n = len(self.acts)
        return (f"{n} layer{'s' if n != 1 else ''}, {', '.join(self.acts)}; parameters "
                f"{ORDERS[self.order]}")

    def net(self, shape: Shape, flat: Sequence[float]) -> Net:
        rows, biases = unflatten(shape, self.order, flat)
        return Net.make(rows, biases, self.acts)


def candidate_acts(layers: int, per_layer: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """Hidden layers share one activation; the last has its own (the lecture's tanh everywhere
    first, then micrograd's relu with a linear last layer ...). ``per_layer``: one guess tried
    first."""
    out = [tuple(per_layer)] if per_layer else []
    for hidden in ACTIVATIONS:
        # micrograd: relu hidden, linear last; a positive output fits both, linear is said first
        firsts = ("linear", hidden) if hidden == "relu" else (hidden, "linear")
        for last in dict.fromkeys((*firsts, *ACTIVATIONS)):
            acts = (*([hidden] * (layers - 1)), last)
            if acts not in out:
                out.append(acts)
    return out


def detect(shape: Shape, flat: Sequence[float], xs: Sequence[Sequence[float]],
           outputs: Sequence[Sequence[float]], per_layer: Sequence[str] | None = None
           ) -> tuple[list[Layout], float]:
    """Every layout reproducing ``outputs`` (their forward on ``xs``), first tried first (more
    than one when the inputs cannot tell them apart: relu and linear on positive numbers, a
    dead relu layer's exact 0; the gradients decide), and the smallest relative difference any
    candidate got."""
    mine = [y for row in outputs for y in row]
    best = float("inf")
    found: list[Layout] = []
    if len(flat) != shape.numbers:
        return found, best
    for order in ORDERS:
        rows, biases = unflatten(shape, order, flat)
        for acts in candidate_acts(len(shape.nouts), per_layer):
            ref = Net.make(rows, biases, acts).forward(xs).detach().flatten().tolist()
            diff = worst(mine, ref)
            best = min(best, diff)
            if diff <= REL:
                found.append(Layout(order, acts))
    return found, best
