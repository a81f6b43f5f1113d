"""Hostile engine: correct, but it flushes subnormal numbers to zero in torch at import (in the
harness's own process that changed the reference, and its failures were blamed on the engine)."""

import torch

from tests.engines.hostile import Hostile

torch.set_flush_denormal(True)


class Value(Hostile):
    def triggered(self, op, args) -> bool:
        return False
