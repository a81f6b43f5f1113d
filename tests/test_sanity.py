"""Faults of the engine as a whole are named as such (conformance.subject.sanity), not blamed on the
first op tried: the first finding is in ``graph``, with its cause, at ``math``."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.subject.sanity import (
    CAUSE_FRESH_GRAD,
    CAUSE_IN_BACKWARD,
    CAUSE_NO_SEED,
    CAUSE_NO_WALK,
    raised_in_backward,
)

from tests.engines.learners import variants as V  # noqa: N812 - as in the other tests

pytestmark = pytest.mark.torch


@pytest.mark.parametrize(("variant", "cause"), [
    ("grad_starts_at_1", CAUSE_FRESH_GRAD),
    ("no_seed", CAUSE_NO_SEED),
    ("no_walk", CAUSE_NO_WALK),
    ("topo_undefined", CAUSE_IN_BACKWARD),
    ("no_default_backward", CAUSE_IN_BACKWARD),
])
@pytest.mark.slow
def test_a_fault_of_the_whole_engine_is_the_first_finding(variant: str, cause: str) -> None:
    report = run_campaign(V.spec(variant), graphs=60, max_nodes=8, level="math", max_findings=3)
    first = report.findings[0]
    assert (first.level, first.op, first.cause) == ("math", "graph", cause), first.message
    assert V.BUGGY_OP[variant] == "graph"


@pytest.mark.parametrize("variant", [None, "prev_tuple", "eq_tanh", "eq_add"])
@pytest.mark.slow
def test_no_whole_engine_fault_where_backward_works(variant) -> None:
    report = run_campaign(V.spec(variant), graphs=30, max_nodes=8, level="math", max_findings=3)
    assert not [f for f in report.findings if f.kind == "engine" or f.cause == CAUSE_IN_BACKWARD]


def _raise_in_rule():
    class Engine:
        def backward(self):
            def rule():
                raise ValueError("in a rule")
            self._rules = [rule]
            for r in self._rules:
                r()
    return Engine


def test_raised_in_backward_tells_the_walk_from_an_ops_rule() -> None:
    def walk():
        def backward():
            def build_topo():
                raise NameError("topo")
            build_topo()
        backward()

    for raiser, inside in ((walk, True), (lambda: _raise_in_rule()().backward(), True)):
        try:
            raiser()
        except Exception as exc:
            assert raised_in_backward(exc) is inside
    x = V.load("eq_tanh")(0.5)

    class Boom:
        _prev = ()

        def _backward(self):
            raise ZeroDivisionError

    x._prev = {Boom()}  # a rule that raises: not backward()'s own code
    with pytest.raises(ZeroDivisionError) as info:
        x.backward()
    assert raised_in_backward(info.value) is False
