"""Hostile engine: tanh segfaults (`ctypes.string_at(0)`) on the probe's own input (0.7), so the
engine's process dies in the probe, before any graph."""

import ctypes

from tests.engines.hostile import Hostile


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return op.name == "tanh" and self.value(args[0]) == 0.7

    def misbehave(self) -> None:
        ctypes.string_at(0)
