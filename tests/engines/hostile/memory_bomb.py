"""Hostile engine: tanh of TRIGGER holds on to 1 MiB more, again and again, until memory runs
out (the harness caps the engine's process: --memory-limit)."""

from tests.engines.hostile import Hostile

_HELD: list[bytearray] = []


class Value(Hostile):
    def misbehave(self) -> None:
        while True:
            _HELD.append(bytearray(1 << 20))
