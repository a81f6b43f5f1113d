"""The root cause first: consequences of a wrong value are not findings of their own, and an op
the engine builds from other ops is reported after them (conformance.judging.checker, conformance.judging.results,
conformance.subject.composition)."""

from __future__ import annotations

import pytest
from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.judging.checker import _without_consequences
from vetgrad.conformance.judging.results import Finding, root_cause_order
from vetgrad.conformance.subject.composition import built_from, op_of_label

LOG_POW = Graph((Node("leaf", value=0.5), Node("log", (0,)), Node("pow", (1, Const(0.5))),
                 Node("exp", (0,)), Node("add", (2, 3))))


def _finding(kind: str, op: str, node: int, level: str = "math", graph: Graph = LOG_POW) -> Finding:
    return Finding(kind, op, node, "", graph, "cpu", level=level, cause=kind)


def test_a_wrong_value_explains_what_it_reaches_downstream() -> None:
    log = _finding("local-value", "log", 1)
    pow_ = _finding("crash", "pow", 2, "robust")  # fed a negative base by log
    exp = _finding("local-grad", "exp", 3)        # on another branch: its own finding
    kept = _without_consequences(LOG_POW, [log, pow_, exp])
    assert kept == [log, exp]
    assert log.downstream == ["pow"]


@pytest.mark.parametrize(("findings", "composition", "order"), [
    # an op built from a failing op comes after it, whatever the graph indices
    ([("sub", "math", 3, 1), ("mul", "math", 3, 9)], {"sub": ("add", "mul")}, ["mul", "sub"]),
    # ... but not after an op that fails only at a higher level
    ([("sub", "math", 3, 1), ("mul", "robust", 3, 0)], {"sub": ("add", "mul")}, ["sub", "mul"]),
    # lowest level first, then the smallest graph
    ([("tanh", "robust", 2, 0), ("exp", "math", 9, 5), ("mul", "math", 3, 7)], {}, ["mul", "exp", "tanh"]),
    # a finding that names an op before one that names only the graph, however small
    ([("graph", "math", 2, 0), ("mul", "math", 3, 7)], {}, ["mul", "graph"]),
])
def test_root_cause_order(findings, composition, order) -> None:
    made = []
    for op, level, size, index in findings:
        graph = Graph(tuple([Node("leaf", value=1.0)] * (size - 1) + [Node(op, (0, 0))]))
        f = _finding("local-grad", op, size - 1, level, graph)
        f.index = index
        made.append(f)
    assert [f.op for f in root_cause_order(made, composition)] == order


@pytest.mark.parametrize(("label", "op"), [
    ("+", "add"), ("*", "mul"), ("**2", "pow"), ("**-1", "pow"), ("tanh", "tanh"), ("ReLU", "relu"),
    ("exp", "exp"), ("", None), (None, None), ("frobnicate", None),
])
def test_op_of_label(label, op) -> None:
    assert op_of_label(label) == op


def test_the_lecture_engine_builds_sub_neg_and_div_from_other_ops() -> None:
    from vetgrad.conformance.subject.adapters import load_adapter

    from tests.engines.learners.variants import load

    adapter = load_adapter(load())
    forms = {"sub": ("nn",), "neg": ("n",), "div": ("nn",), "add": ("nn",), "tanh": ("n",)}
    assert built_from(adapter, forms) == {"sub": ("add", "mul"), "neg": ("mul",), "div": ("mul", "pow")}
