"""Hostile engine: tanh of TRIGGER does `ctypes.string_at(0)`."""

import ctypes

from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        ctypes.string_at(0)
