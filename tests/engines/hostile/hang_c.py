"""Hostile engine: tanh of TRIGGER does `ctypes.CDLL(None).sleep(100)`."""

import ctypes

from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        ctypes.CDLL(None).sleep(100)
