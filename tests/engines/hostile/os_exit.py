"""Hostile engine: tanh of TRIGGER does `os._exit(0)`."""

import os

from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        os._exit(0)
