"""The one list of the places where a hot op's arithmetic is written out again, by hand, for speed.

A row (engine/ops/) is the op's spec: its ``forward`` and VJP rule. Three kinds of code repeat
parts of it:

- **made from the row** (no copy to keep in step): ``Value``'s operators and methods
  (engine/methods.py inlines the row's ``code`` forward), the compiled and batched replays'
  templates (engine/templates.py and engine/batch_templates.py gather the rows' ``code`` and
  ``numpy``; tests/test_compile.py and tests/test_batched.py hold each to its row);
- **written by hand beside the rule** in the row's block: ``fast_back`` and ``const_fast_back``,
  one backward step of a node with its VJP rule inlined (a call costs about a third of a node);
- **written by hand far from the row**: the branches of :func:`engine.backprop.backward`'s loop.

The last two are listed in :data:`COPIES`, and tests/test_engine_inlined.py holds every entry
bit-identical to its row's rule on an edge grid (±0, ±inf, nan, subnormals, huge values, with
earlier gradients) and checks that the list is complete. A new hand-written copy goes here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Copy:
    """One hand-written copy of a row's backward rule."""

    op: str  # the row it copies
    form: str  # "nn" two nodes, "n" unary, "nc" a constant on the right (x - c), "cn" on the left
    kind: str  # "step": a function of the node (a row's fast_back); "loop": a branch of backward()
    where: str  # "module:name" of the function that holds it

    def resolve(self) -> Any:
        """The function that holds the copy."""
        module, _, name = self.where.partition(":")
        return getattr(importlib.import_module(module), name)


_ARITHMETIC = "vetgrad.engine.ops.arithmetic"
_LOOP = "vetgrad.engine.backprop:backward"

COPIES: tuple[Copy, ...] = (
    # the rows' hand-written backward steps (engine/ops/, in each op's block)
    Copy("add", "nn", "step", f"{_ARITHMETIC}:_add_back"),
    Copy("add", "nc", "step", f"{_ARITHMETIC}:_add_const_back"),
    Copy("add", "cn", "step", f"{_ARITHMETIC}:_add_const_back"),
    Copy("sub", "nn", "step", f"{_ARITHMETIC}:_sub_back"),
    Copy("sub", "nc", "step", f"{_ARITHMETIC}:_sub_const_back"),
    Copy("sub", "cn", "step", f"{_ARITHMETIC}:_rsub_const_back"),
    Copy("mul", "nn", "step", f"{_ARITHMETIC}:_mul_back"),
    Copy("mul", "nc", "step", f"{_ARITHMETIC}:_mul_const_back"),
    Copy("mul", "cn", "step", f"{_ARITHMETIC}:_mul_const_back"),
    Copy("div", "nc", "step", f"{_ARITHMETIC}:_div_const_back"),
    Copy("div", "cn", "step", f"{_ARITHMETIC}:_rdiv_const_back"),
    Copy("neg", "n", "step", f"{_ARITHMETIC}:_neg_back"),
    Copy("relu", "n", "step", "vetgrad.engine.ops.piecewise:_relu_back"),
    Copy("tanh", "n", "step", "vetgrad.engine.ops.smooth:_tanh_back"),
    Copy("exp", "n", "step", "vetgrad.engine.ops.smooth:_exp_back"),
    # backward()'s loop (engine/backprop.py), most common first
    Copy("add", "nn", "loop", _LOOP),
    Copy("mul", "nn", "loop", _LOOP),
    Copy("tanh", "n", "loop", _LOOP),
    Copy("relu", "n", "loop", _LOOP),
    Copy("sub", "nn", "loop", _LOOP),
    Copy("neg", "n", "loop", _LOOP),
    Copy("exp", "n", "loop", _LOOP),
)
"""Every hand-written copy of a row's rule, with where it is."""
