"""The reference: the same network in torch float64 (``Linear`` weights and biases as tensors),
its forward, the lecture's loss (a sum of squared errors) and its gradients, and SGD steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def activate(name: str, t: torch.Tensor) -> torch.Tensor:
    if name == "tanh":
        return torch.tanh(t)
    if name == "relu":
        return torch.relu(t)
    if name == "sigmoid":
        return torch.sigmoid(t)
    return t


@dataclass
class Net:
    """Per layer: weight (nout x nin), bias (nout) and activation."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    acts: list[str]

    @classmethod
    def make(cls, rows: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]],
             acts: Sequence[str]) -> Net:
        return cls([torch.tensor(r, dtype=torch.float64, requires_grad=True) for r in rows],
                   [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in biases],
                   list(acts))

    def parameters(self) -> list[torch.Tensor]:
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def forward(self, xs: Sequence[Sequence[float]]) -> torch.Tensor:
        """Outputs, one row per sample."""
        h = torch.tensor(xs, dtype=torch.float64)
        for w, b, act in zip(self.weights, self.biases, self.acts):
            h = activate(act, h @ w.T + b)
        return h

    def loss(self, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]) -> torch.Tensor:
        return ((self.forward(xs) - torch.tensor(ys, dtype=torch.float64)) ** 2).sum()

    def grads(self, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]
              ) -> tuple[float, list[list[list[float]]], list[list[float]]]:
        """The loss and its gradient, weights (per layer, rows) and biases (per layer)."""
        for p in self.parameters():
            p.grad = None
        loss = self.loss(xs, ys)
        loss.backward()
        return (loss.item(), [w.grad.tolist() for w in self.weights],  # type: ignore[union-attr]
                [b.grad.tolist() for b in self.biases])  # type: ignore[union-attr]

    def train(self, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]], lr: float,
              steps: int) -> tuple[list[float], list[tuple[list[list[list[float]]], list[list[float]]]]]:
        """torch's loop: per step zero_grad, loss, backward, SGD(lr).step(); the loss of each step
        (before its update) and the weights and biases after it. The update is the one
        ``torch.optim.SGD`` makes without momentum (``param.add_(grad, alpha=-lr)``), written
        out: constructing the optimizer imports torch._dynamo, 4 s of a check that takes 1."""
        losses, after = [], []
        for _ in range(steps):
            for p in self.parameters():
                p.grad = None
            loss = self.loss(xs, ys)
            loss.backward()
            with torch.no_grad():
                for p in self.parameters():
                    p.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
            after.append(([w.detach().tolist() for w in self.weights],
                          [b.detach().tolist() for b in self.biases]))
        return losses, after
