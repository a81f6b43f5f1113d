"""Every hand-written copy of a row's rule (engine/inlined.py lists them) is bit-identical to the
rule, on an edge grid; and the list is complete."""

from __future__ import annotations

import inspect
import itertools
import math
import re

import pytest
from vetgrad.engine import OPS, Value, backprop
from vetgrad.engine.inlined import COPIES, Copy
from vetgrad.engine.ops import _const_back, _float_back

INF, NAN = math.inf, math.nan
EDGES = (0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 1e-300, -1e-300, 1e300, -1e300, 0.5, -2.5, 3.0,
         20.0, -20.0, 710.0, 1e-8, 2.0, -3.0, 5e-324, -5e-324, 1e-310)
GRADS = (1.0, -1.0, 0.0, -0.0, 0.5, 3e300, -1e-300, INF, -INF, NAN)


def _bits(x: float) -> str:
    return x.hex() if x == x else "nan"


def _node(copy: Copy, inputs: tuple[float, ...]) -> tuple[Value, list[Value]]:
    """A node of the copy's op and form on ``inputs`` (for a constant form: the Value's, then the
    constant's), and its Value operands."""
    op = OPS[copy.op]
    if copy.form in ("n", "nn"):
        leaves = [Value(x) for x in inputs]
        return op.call(*leaves), leaves
    leaf, c = Value(inputs[0]), inputs[1]
    node = op.call(leaf, c) if copy.form == "nc" else op.call(c, leaf)
    assert node._spec is (op.const_right if copy.form == "nc" else op.const_left)
    return node, [leaf]


def _rule_step(copy: Copy):
    """One backward step made from the row's VJP rule (the reference)."""
    op = OPS[copy.op]
    if copy.form in ("n", "nn"):
        return _float_back(op, ())
    spec = op.const_right if copy.form == "nc" else op.const_left
    return _const_back(spec.vjp, op, copy.form == "nc")


@pytest.mark.parametrize("copy", COPIES, ids=lambda c: f"{c.op}-{c.form}-{c.kind}")
def test_every_hand_written_copy_is_bit_identical_to_the_rule(copy: Copy) -> None:
    """A step adds to its operands' grads what the rule gives (from 0.0, -0.0 and 2.0); a branch
    of backward()'s loop leaves each leaf with what the rule gives, earlier grads added last."""
    rule = _rule_step(copy)
    arity = 2 if copy.form != "n" else 1
    for inputs in itertools.product(EDGES, repeat=arity):
        for g in GRADS:
            if copy.kind == "step":
                for start in (0.0, -0.0, 2.0):
                    results = []
                    for back in (copy.resolve(), rule):
                        node, leaves = _node(copy, inputs)
                        node.grad = g
                        for leaf in leaves:
                            leaf.grad = start
                        back(node)
                        results.append([_bits(leaf.grad) for leaf in leaves])
                    assert results[0] == results[1], (copy, inputs, g, start)
                continue
            for start in (None, 0.0, 2.0):  # None: never set (the pass assigns); else added to
                node, leaves = _node(copy, inputs)
                for leaf in leaves:
                    if start is not None:
                        leaf.grad = start
                node.backward(g)
                got = [leaf.grad for leaf in leaves]
                node, leaves = _node(copy, inputs)
                node.grad = g * 1.0
                for leaf in leaves:
                    leaf.grad = -0.0
                rule(node)
                want = [leaf.grad if start is None else start + leaf.grad for leaf in leaves]
                assert list(map(_bits, got)) == list(map(_bits, want)), (copy, inputs, g, start)


def test_the_list_names_every_hand_written_step_of_the_rows() -> None:
    steps = {(c.op, c.form): c.resolve() for c in COPIES if c.kind == "step"}
    rows = {}
    for op in OPS.values():
        if op.fast_back is not None:
            rows[(op.name, "nn" if op.arity == 2 else "n")] = op.fast_back
        for form, back in zip(("cn", "nc"), op.const_fast_back):
            if back is not None:
                rows[(op.name, form)] = back
    assert steps == rows


def test_the_list_names_every_branch_of_the_backward_loop() -> None:
    """backward()'s loop has one ``spec is <op>_op`` branch per op of backprop.INLINED, each listed."""
    loop = [c.op for c in COPIES if c.kind == "loop"]
    assert loop == [op.name for op in backprop.INLINED]
    branches = re.findall(r"if spec is (\w+)_op:", inspect.getsource(backprop.backward))
    assert branches == loop
    assert all(OPS[name].fast_back is not None for name in loop)  # the same body, beside the rule
