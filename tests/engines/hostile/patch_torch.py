"""Hostile engine: tanh is 1% too large, and torch.tanh is patched at import to agree with it
(in the harness's own process that made the reference agree, so the bug passed)."""

import torch

from tests.engines.hostile import Hostile

_tanh = torch.tanh
torch.tanh = lambda t, *args, **kwargs: _tanh(t, *args, **kwargs) * 1.01
torch.Tensor.tanh = lambda t: _tanh(t) * 1.01


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return op.name == "tanh"

    def apply(self, op, args, params):
        out = super().apply(op, args, params)
        if op.name == "tanh":
            out.data = out.data * 1.01
        return out

    def misbehave(self) -> None:
        pass
