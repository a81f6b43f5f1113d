"""Hostile engine: its functional ``grad`` (higher derivatives, --higher-order) segfaults
(`ctypes.string_at(0)`) when the root's value is tanh(TRIGGER) (-1.0); graphs and first
derivatives are our engine's."""

import ctypes
import math

from tests.engines.hostile import TRIGGER, Hostile


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return False

    def grad_of(self, output, inputs, create_graph):
        if self.value(output) == math.tanh(TRIGGER):
            ctypes.string_at(0)
        return super().grad_of(output, inputs, create_graph)
