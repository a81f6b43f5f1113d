"""Hostile engine: in the first engine process of a campaign, tanh of TRIGGER is wrong (0.5);
in every later process (confirmation, shrinking: fresh processes) it segfaults. A marker file,
one per harness process starter, tells the first process from the others."""

import ctypes
import os
import tempfile

from tests.engines.hostile import TRIGGER, Hostile

_MARKER = os.path.join(tempfile.gettempdir(), f"vetgrad-crash-in-fresh-{os.getppid()}")
FIRST = not os.path.exists(_MARKER)
if FIRST:
    with open(_MARKER, "w"):
        pass


class Value(Hostile):
    def apply(self, op, args, params):
        if op.name == "tanh" and self.value(args[0]) == TRIGGER:
            if FIRST:
                return self.leaf(0.5)
            ctypes.string_at(0)
        return super().apply(op, args, params)
