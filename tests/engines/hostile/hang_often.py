"""Hostile engine: tanh of any positive number loops forever (the probe's inputs are spared), so
most graphs with a tanh hang: a campaign must stop after --max-hangs of them, not pay each
timeout."""

from typing import Any, Sequence

from vetgrad.conformance.subject.probe import PROBE_CASES
from vetgrad.engine.ops import Op

from tests.engines.hostile import Hostile

PROBE_INPUTS = {x for case in PROBE_CASES for x in case}


class Value(Hostile):
    def triggered(self, op: Op, args: Sequence[Any]) -> bool:
        if op.name != self.op:  # (args[0] may be a plain number in 2 - x)
            return False
        x = self.value(args[0])
        return x > 0.0 and x not in PROBE_INPUTS

    def misbehave(self) -> None:
        while True:
            pass
