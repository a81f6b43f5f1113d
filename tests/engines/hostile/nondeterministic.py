"""Hostile engine: tanh is off by a random relative error of up to 1e-3, different every call."""

import random

from tests.engines.hostile import Hostile


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return False

    def apply(self, op, args, params):
        out = super().apply(op, args, params)
        if op.name == "tanh" and out.data == out.data and abs(out.data) > 1e-3:
            out.data = out.data * (1 + 1e-4 + random.random() * 1e-3)
        return out
