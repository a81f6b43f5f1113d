"""The harness tested by mutation: does it pass a correct engine and catch realistic bugs?

The specimen is tests/engines/textbook.py, a correct micrograd-style engine written independently of
vetgrad's; tests/engines/mutants.py derives one-bug mutants of it. Every campaign runs the same
graphs (same seed, budget and size), so a failure of a mutant is due to its bug: the textbook
passes those very graphs. ``graphs to catch`` is the report's ``first_failure + 1``: graph ``i`` of
a campaign does not depend on the budget, so it is the smallest budget that catches the mutant.
"""

from __future__ import annotations

import functools
import statistics
from typing import Any

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")
pytest.importorskip("mpmath", reason="the harness needs mpmath")


from vetgrad.conformance.judging.levels import LEVELS, at_or_below, rank
from vetgrad.conformance.judging.results import Report
from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.run.campaign_graphs import all_ops, edge_graphs
from vetgrad.conformance.subject.adapters import load_adapter

pytestmark = pytest.mark.torch

BUDGET = 300      # graphs per campaign
# The ops the mutant catalog was written against: a mutant's campaign draws from these only, so
# that an op added to the table later does not thin out the graphs that reach the mutated one
# (the textbook's own campaign, the no-false-alarm check, runs every op of the table).
CATALOG_OPS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "floordiv", "mod", "neg",
               "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu",
               "softplus", "clamp"]
MAX_NODES = 12
SEED = 0


import mutant_engines as M  # noqa: E402, N812 - tests/engines/mutants.py, registered by conftest.py

# Mutants the harness does not catch within the budget yet, and why (see the harness's findings in
# the self-test report). Each is an expected failure that turns red (strict xfail) once the harness
# catches it: then delete its line here.
KNOWN_GAPS: dict[str, str] = {
}


def _gap(name: str) -> list[Any]:
    reason = KNOWN_GAPS.get(name)
    return [pytest.mark.xfail(strict=True, reason=f"harness gap: {reason}")] if reason else []


@functools.cache
def campaign(name: str | None, strict: bool) -> Report:
    """The report of one campaign of the textbook (None) or of a mutant (cached: the summary test
    reuses the campaigns of the per-mutant tests)."""
    engine = M.load_textbook() if name is None else M.load_mutant(name)
    ops = None if name is None else CATALOG_OPS
    return run_campaign(engine, graphs=BUDGET, seed=SEED, max_nodes=MAX_NODES, strict=strict,
                        shrink=False, ops=ops)


def at(report: Report, level: str) -> Report:
    """The report judged at ``level`` (the ladder is judged at once: only the verdict moves)."""
    report.level = level
    return report


def _explain(report: Report) -> str:
    shown = [f for f in report.findings if at_or_below(f.level, report.level)]
    if not shown:
        return f"no finding at level {report.level} in {report.graphs} graphs"
    f = shown[0]
    return f"graph {f.index}: [{f.level}] {f.kind} at {f.op} (node {f.node}): {f.cause}: {f.message}"


def _first_catch(name: str, report: Report) -> int | None:
    """Index of the first graph that catches mutant ``name`` at its level: any finding, or for a
    precision mutant a finding at the op its error was injected into."""
    op = M.INJECTED_OP.get(name)
    found = [f.index for f in report.findings
             if (op is None or f.op == op) and at_or_below(f.level, M.LEVEL[name])]
    return min(found) if found else None


def _caught(name: str) -> int | None:
    """Graphs needed to catch mutant ``name`` (None: not caught as the spec requires)."""
    level = M.LEVEL[name]
    if name in M.STRICT_ONLY:
        strict, default = at(campaign(name, True), level), at(campaign(name, False), level)
        first = _first_catch(name, strict)
        return None if default.failed or first is None else first + 1
    report = campaign(name, False)
    below = LEVELS[rank(level) - 1] if rank(level) else None
    if below is not None and at(report, below).failed:
        return None  # caught below its level: a wrong diagnosis
    first = _first_catch(name, report)
    return None if first is None else first + 1


DEFAULT_MUTANTS = [pytest.param(n, id=n, marks=_gap(n)) for n in M.MUTANTS if n not in M.STRICT_ONLY]
STRICT_MUTANTS = [pytest.param(n, id=n, marks=_gap(n)) for n in M.MUTANTS if n in M.STRICT_ONLY]


def test_catalog() -> None:
    assert len(M.MUTANTS) >= 24
    assert set(M.DESCRIPTIONS) == set(M.MUTANTS)
    assert set(M.MUTANTS) >= M.STRICT_ONLY
    textbook = M.textbook_source()
    for name in M.MUTANTS:
        source = M.mutant_source(name)  # asserts the old text occurs exactly once
        assert source != textbook, name
        compile(source, name, "exec")
        assert M.load_mutant(name) is not M.load_textbook()


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_textbook_conforms(strict: bool) -> None:
    """No false alarm: the correct engine passes every graph at every level, in both modes, with
    every op tested."""
    report = at(campaign(None, strict), "torch")
    sweep = len(edge_graphs(report.ops, load_adapter(M.load_textbook()).forms()))
    assert report.graphs == BUDGET + sweep  # the random graphs after the edge sweep
    assert set(report.ops) == set(all_ops())
    assert all(report.per_op[op].cases for op in all_ops()), "an op was never generated"
    assert report.failed == 0, _explain(report)


@pytest.mark.parametrize("name", DEFAULT_MUTANTS)
@pytest.mark.slow
def test_mutant_caught(name: str) -> None:
    """Caught at its level (docs/ladder.md), passed below it, the first finding naming its op."""
    level = M.LEVEL[name]
    report = campaign(name, False)
    if rank(level):
        below = at(report, LEVELS[rank(level) - 1])
        assert below.failed == 0, f"{name} ({M.DESCRIPTIONS[name]}) fails below {level}: {_explain(below)}"
    report = at(report, level)
    assert report.failed >= 1, f"{name} ({M.DESCRIPTIONS[name]}) not caught at {level}: {_explain(report)}"
    if name in M.INJECTED_OP:
        assert _first_catch(name, report) is not None, f"{name}: no finding at the injected op: {_explain(report)}"
    if name in M.BUGGY_OP:
        first = next(f for f in report.findings if f.level == level)
        assert first.op == M.BUGGY_OP[name], f"{name}: the first finding names {first.op}: {_explain(report)}"


@pytest.mark.parametrize("name", STRICT_MUTANTS)
@pytest.mark.slow
def test_tiny_error_caught_only_in_strict_mode(name: str) -> None:
    strict = at(campaign(name, True), "math")
    assert strict.failed >= 1, f"strict mode missed {name}: {_explain(strict)}"
    assert _first_catch(name, strict) is not None, f"no finding at the injected op: {_explain(strict)}"
    default = at(campaign(name, False), "torch")
    assert default.failed == 0, f"default mode flagged {name}: {_explain(default)}"
    assert default.per_op["mul"].imprecise >= 1, "default mode should list the error as imprecise"


@pytest.mark.xfail(bool(KNOWN_GAPS), strict=True, reason=f"harness gaps: {', '.join(KNOWN_GAPS)}")
@pytest.mark.slow
def test_mutation_score(capsys: pytest.CaptureFixture[str]) -> None:
    needed = {name: _caught(name) for name in M.MUTANTS}
    caught = {name: n for name, n in needed.items() if n is not None}
    score = len(caught) / len(needed)
    median = statistics.median(caught.values()) if caught else float("nan")
    missed = sorted(set(needed) - set(caught))
    with capsys.disabled():
        print(f"\nmutation score {len(caught)}/{len(needed)} = {score:.2f} "
              f"(budget {BUDGET} graphs of <= {MAX_NODES} nodes, seed {SEED}); "
              f"median graphs to catch {median}; missed: {', '.join(missed) or 'none'}")
    assert score == 1.0, f"not caught within {BUDGET} graphs: {missed}"
