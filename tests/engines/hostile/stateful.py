"""Hostile engine: tanh goes wrong (off by a relative 1e-3) once the process has run 300 tanh
ops: a graph fails after others ran, never alone in a fresh process."""

from tests.engines.hostile import Hostile


class Value(Hostile):
    calls = 0

    def triggered(self, op, args) -> bool:
        return op.name == "tanh"

    def apply(self, op, args, params):
        out = super().apply(op, args, params)
        if op.name == "tanh":
            Value.calls += 1
            if Value.calls > 300:
                out.data = out.data * (1 + 1e-3)
        return out

    def misbehave(self) -> None:
        pass
