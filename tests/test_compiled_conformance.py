"""The compiled path as an engine to the harness: conformance.subject.adapters_compiled.CompiledAdapter
passes at --level torch --strict, and a wrong template is found (so the adapter really judges the
generated code)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the conformance harness needs torch")

from vetgrad.conformance.run.api import check_engine
from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.subject.adapters_compiled import CompiledAdapter
from vetgrad.engine import templates


@pytest.mark.slow
def test_compiled_adapter_conforms_at_torch_level_strict() -> None:
    report = check_engine(CompiledAdapter(), graphs=150, seed=15, level="torch", strict=True)
    assert report.failed == 0, report.findings[:1]
    assert report.graphs >= 150


@pytest.mark.slow
def test_a_wrong_template_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # relu's gradient at 0 taken as 1 (x >= 0), the textbook's slip: torch says 0
    monkeypatch.setitem(templates.BACKWARD, ("relu", "n"), ("0.0 if {out} < 0.0 else {g}",))
    # in this process: the patch is this interpreter's (an isolated engine would not see it)
    report = run_campaign(CompiledAdapter(), graphs=60, seed=1, ops=["relu", "mul", "add"],
                          strict=True, isolate=False, shrink=False)
    report.level = "torch"
    assert report.failed > 0


def test_values_come_from_the_replay() -> None:
    adapter = CompiledAdapter()
    x, y = adapter.leaf(-0.0), adapter.leaf(0.0)
    from vetgrad.engine.ops import OPS

    z = adapter.apply(OPS["mul"], [x, y], ())
    r = adapter.apply(OPS["relu"], [z], ())
    assert repr(adapter.value(r)) == "-0.0"
    adapter.backward(r)
    adapter.backward(r)  # a second backward adds the same again, the root's grad included
    assert adapter.grad(r) == 2.0 and repr(adapter.grad(x)) == "0.0"


@pytest.mark.slow
def test_batched_adapter_conforms_at_torch_level_strict() -> None:
    pytest.importorskip("numpy")
    from vetgrad.conformance.subject.adapters_batched import BatchedAdapter

    report = check_engine(BatchedAdapter(), graphs=150, seed=15, level="torch", strict=True)
    assert report.failed == 0, report.findings[:1]
    assert report.graphs >= 150


@pytest.mark.slow
def test_a_wrong_batch_template_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    from vetgrad.conformance.subject.adapters_batched import BatchedAdapter
    from vetgrad.engine import batch_templates

    # maximum's tie taken by the first operand alone: torch splits it 0.5 / 0.5
    monkeypatch.setitem(batch_templates.BACKWARD, "maximum",
                        ("where({a} >= {b}, {g}, 0.0)", "where({a} < {b}, {g}, 0.0)"))
    report = run_campaign(BatchedAdapter(), graphs=60, seed=1, ops=["maximum", "mul", "add"],
                          strict=True, isolate=False, shrink=False)
    report.level = "torch"
    assert report.failed > 0


def test_the_batched_adapter_judges_its_own_row_of_the_batch() -> None:
    from vetgrad.conformance.subject.adapters_batched import OWN_ROW, rows

    columns = rows([1.5, -2.0])
    assert [c[OWN_ROW] for c in columns] == [1.5, -2.0]
    assert len({tuple(c) for c in columns}) == 2 and len(set(columns[0])) == len(columns[0])
