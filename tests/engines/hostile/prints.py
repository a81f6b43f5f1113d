"""Hostile engine: correct, but every tanh prints 100,000 characters and warns."""

import warnings

from tests.engines.hostile import Hostile


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return op.name == "tanh"

    def misbehave(self) -> None:
        print("chatter " * 12_500)
        warnings.warn("tanh was called", stacklevel=1)
