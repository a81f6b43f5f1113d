"""Hostile engine: tanh of TRIGGER does `sys.exit(0)`."""

import sys

from tests.engines.hostile import Hostile


class Value(Hostile):
    def misbehave(self) -> None:
        sys.exit(0)
