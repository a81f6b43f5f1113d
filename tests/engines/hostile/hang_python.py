"""Hostile engine: tanh of TRIGGER loops forever in Python."""

from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        while True:
            pass
