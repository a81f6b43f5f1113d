"""Hostile engine: tanh hangs on the probe's own input (0.7), so the probe never returns."""

from tests.engines.hostile import Hostile


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return op.name == "tanh" and self.value(args[0]) == 0.7

    def misbehave(self) -> None:
        while True:
            pass
