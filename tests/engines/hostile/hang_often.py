"""Hostile engine: tanh of any positive number loops forever (the probe's 0.7 is spared), so most
graphs with a tanh hang: a campaign must stop after --max-hangs of them, not pay each timeout."""

from typing import Any, Sequence

from engine.ops import Op
from tests.engines.hostile import Hostile

PROBE_INPUT = 0.7


class Value(Hostile):
    def triggered(self, op: Op, args: Sequence[Any]) -> bool:
        x = self.value(args[0])
        return op.name == self.op and x > 0.0 and x != PROBE_INPUT

    def misbehave(self) -> None:
        while True:
            pass
