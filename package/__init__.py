"""vetgrad: scalar reverse-mode autograd with PyTorch's float64 semantics, checked against PyTorch.

>>> from vetgrad import Value, MLP
>>> a = Value(2.0)
>>> (a * a).backward(); a.grad
4.0

The one installed top-level name. Its parts are the repository's folders, mapped into it at build
time (see docs/development.md): ``vetgrad.engine`` (the autograd engine, no dependencies),
``vetgrad.nn`` (Module/MLP/losses/optimizers), ``vetgrad.conformance`` (the differential harness,
needs torch) and ``vetgrad.benchmarks``. The names below are the everyday ones, loaded on first use
so that importing the harness does not load nn.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> the part that defines it (read on first access; ``dir(vetgrad)`` lists them)
_EXPORTS = {
    **dict.fromkeys(["Value", "backward", "compile", "draw_dot", "grad", "no_grad", "gradcheck"],
                    "vetgrad.engine"),
    **dict.fromkeys(["MLP", "Layer", "Neuron", "Module", "SGD", "Adam", "mse_loss"], "vetgrad.nn"),
    **dict.fromkeys(["check_engine"], "vetgrad.conformance"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    part = _EXPORTS.get(name)
    if part is None:
        raise AttributeError(f"module 'vetgrad' has no attribute {name!r}")
    value = getattr(importlib.import_module(part), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
