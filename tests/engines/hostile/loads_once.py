"""Hostile engine: loads in the first engine process of a campaign only (a later one raises
ImportError: a marker file, one per harness process starter, says it was loaded), and that first
process segfaults on tanh of TRIGGER: a fresh process can never take over."""

import ctypes
import os
import tempfile

from tests.engines.hostile import Hostile

_MARKER = os.path.join(tempfile.gettempdir(), f"vetgrad-loads-once-{os.getppid()}")
if os.path.exists(_MARKER):
    raise ImportError(f"this engine loads once only ({_MARKER} exists)")
with open(_MARKER, "w"):
    pass


class Value(Hostile):
    def misbehave(self) -> None:
        ctypes.string_at(0)
