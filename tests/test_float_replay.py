"""The replay in floats (conformance.judging.oracle.float_replay) decides only what the exact replay would:
whatever it calls clearly unexplained, the exact replay does not explain either."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("mpmath", reason="the exact replay needs mpmath")

from vetgrad.conformance.dags.generate import random_graph
from vetgrad.conformance.judging.oracle import clearly_unexplained, explained, float_replay, replay

SCALES = (lambda r: r.uniform(-3, 3), lambda r: 0.0, lambda r: 1e-8 * r.random(),
          lambda r: 1e8 * r.random())


@pytest.mark.parametrize("seed", range(4))
def test_clearly_unexplained_implies_unexplained(seed: int) -> None:
    rng = random.Random(seed)
    decided = 0
    for _ in range(150):
        graph = random_graph(rng.randrange(10**9), max_nodes=20)
        derivs = {i: tuple(rng.choice(SCALES)(rng) for _ in node.args)
                  for i, node in enumerate(graph.nodes) if node.op != "leaf"}
        floats, exact = float_replay(graph, derivs), replay(graph, derivs)
        assert floats is not None and exact is not None
        n = len(graph.nodes)
        for i in range(n):
            right = float(exact[0][i])
            for mine in (right, right * (1 + 1e-7), right * (1 + 1e-5), right + 1.0, 2 * right, 0.0):
                if clearly_unexplained(mine, floats, i, n):
                    decided += 1
                    assert not explained(mine, exact, i, n), (graph, i, mine)
    assert decided > 1000  # it does decide: most lost or doubled contributions


def test_a_derivative_that_is_not_finite_is_left_to_the_exact_replay() -> None:
    graph = random_graph(7, max_nodes=6)
    derivs = {i: (float("inf"),) * len(node.args) for i, node in enumerate(graph.nodes) if node.op != "leaf"}
    assert float_replay(graph, derivs) is None
