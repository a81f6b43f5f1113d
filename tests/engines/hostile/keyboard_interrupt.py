"""Hostile engine: tanh of TRIGGER does `raise KeyboardInterrupt`."""


from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        raise KeyboardInterrupt
