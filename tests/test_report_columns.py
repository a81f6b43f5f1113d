"""Counting and columns of the report: the edge sweep's graphs counted apart from --graphs, rows
only for the ops asked (or a word on why another is there), class differences in words rather
than ulps across classes, and the form codes explained."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from vetgrad.conformance.dags.graph import Graph, Node
from vetgrad.conformance.judging import number as J  # noqa: N812
from vetgrad.conformance.judging.numerics import class_difference, versus
from vetgrad.conformance.judging.results import OpStats, Report
from vetgrad.conformance.reporting.merge import merge
from vetgrad.conformance.reporting.text import format_report
from vetgrad.conformance.run.cli import main
from vetgrad.conformance.subject.probe import FORM_LEGEND

pytestmark = pytest.mark.torch


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, list[str], dict]:
    path = tmp_path / f"r{len(list(tmp_path.iterdir()))}.json"
    code = main(["--device", "cpu", "--show", "0", "--json", str(path), *args])
    return code, capsys.readouterr().out.strip().splitlines(), json.loads(path.read_text())


# -- (a) the edge sweep's graphs apart from --graphs ------------------------------------------------

def test_edge_sweep_graphs_are_counted_apart_from_graphs(capsys, tmp_path: Path) -> None:
    code, out, data = _run(capsys, tmp_path, "--graphs", "20", "--ops", "tanh,mul")
    assert code == 0
    # tanh: 1 operand form, mul: 3, and the deep chain of add: 5 edge-sweep graphs
    assert any(line.startswith("20 random graphs + 5 edge-sweep graphs in ") for line in out), out
    assert out[-2] == "random graphs: 20 passed, 0 failed · edge-sweep graphs: 5 passed, 0 failed"
    assert out[-1] == "25 passed, 0 failed"  # the closing line scripts read: unchanged
    assert data["graphs"] == 25 and data["passed"] == 25  # version 1's fields keep their meaning
    assert data["random_graphs"] == {"graphs": 20, "passed": 20, "failed": 0,
                                     "failed_by_level": {"math": 0, "robust": 0, "torch": 0}}
    assert data["edge_sweep_graphs"]["graphs"] == 5 and data["edge_sweep_graphs"]["failed"] == 0


def test_without_the_sweep_only_random_graphs_are_counted(capsys, tmp_path: Path) -> None:
    _, out, data = _run(capsys, tmp_path, "--graphs", "20", "--ops", "tanh", "--no-edge-sweep")
    assert any(line.startswith("20 random graphs in ") for line in out), out
    assert out[-2] == "random graphs: 20 passed, 0 failed"
    assert data["edge_sweep_graphs"]["graphs"] == 0 and data["random_graphs"]["graphs"] == 20


@pytest.mark.slow
def test_pass_and_fail_are_counted_per_kind_of_graph(capsys, tmp_path: Path) -> None:
    code, out, data = _run(capsys, tmp_path, "--engine", M.spec("tanh_grad_1_minus_t"),
                           "--graphs", "30", "--ops", "tanh,mul")
    assert code == 1
    random, sweep = data["random_graphs"], data["edge_sweep_graphs"]
    assert random["failed"] > 0 and sweep["failed"] > 0  # tanh's sweep graph fails too
    assert random["failed"] + sweep["failed"] == data["failed"]
    assert random["passed"] + sweep["passed"] == data["passed"]
    assert random["graphs"] == 30 and random["graphs"] + sweep["graphs"] == data["graphs"]
    assert out[-2] == (f"random graphs: {random['passed']} passed, {random['failed']} failed · "
                       f"edge-sweep graphs: {sweep['passed']} passed, {sweep['failed']} failed")


@pytest.mark.slow
def test_shards_merge_their_counts_per_kind(capsys, tmp_path: Path) -> None:
    reports = [_run(capsys, tmp_path, "--graphs", "10", "--ops", "tanh", "--shard", f"{k}/2")[2]
               for k in (1, 2)]
    merged = merge(reports)
    assert merged["graphs"] == 22  # shard 1 runs the sweep (tanh, and the chain of add)
    assert merged["random_graphs"]["graphs"] == 20 and merged["edge_sweep_graphs"]["graphs"] == 2
    assert merged["edge_sweep_graphs"]["failed_by_level"] == {"math": 0, "robust": 0, "torch": 0}


# -- (b) rows only for the ops asked -----------------------------------------------------------------

ROW = re.compile(r"^(.{12}) +\d+ +\d+ +\d+ +\d+ +[\d-]+  ")


def _rows(out: list[str]) -> list[str]:
    """The names of the table's rows."""
    return [m.group(1).strip() for m in map(ROW.match, out) if m]


def test_only_the_asked_ops_get_rows_and_a_helper_op_gets_a_note(capsys, tmp_path: Path) -> None:
    _, out, data = _run(capsys, tmp_path, "--graphs", "20", "--ops", "tanh,mul")
    assert _rows(out) == ["tanh", "mul", "backward x2"]
    note = next(line for line in out if line.startswith("not in --ops"))
    assert "add (sums each graph's outputs into its root" in note
    assert "a check, not an op" in next(line for line in out if line.startswith("backward x2"))
    assert set(data["not_asked"]) == {"add"} and "add" in data["per_op"]  # per_op as before


def _report(per_op: dict[str, OpStats], causes: dict, ops: list[str]) -> Report:
    report = Report("e:V", 0, False, ["cpu"], ops, per_op=per_op, graphs=3)
    report.causes = causes
    report.failed_at["math"] = 1 if causes else 0
    return report


@pytest.mark.parametrize(("name", "causes", "row", "said"), [
    ("add", {("math", "a contribution lost"): {"add": 1}}, True, "FAIL (not in --ops: sums each graph's outputs"),
    ("add", {}, False, "not in --ops, used by the graphs: add (sums each graph's outputs"),
    ("relu", {("math", "a wrong formula"): {"relu": 1}}, True, "FAIL (not in --ops: a finding names it)"),
])
def test_an_op_not_asked_is_there_with_a_reason(name: str, causes: dict, row: bool, said: str) -> None:
    stats = {"tanh": OpStats(cases=4, passed=4), name: OpStats(cases=2, passed=2 - bool(causes),
                                                               failed=bool(causes))}
    text = format_report(_report(stats, causes, ["tanh"]), 0)
    assert said in text, text
    assert any(line.startswith(name + " ") for line in text.splitlines()) == row


def test_backward_twice_row_fails_with_a_second_backwards_findings() -> None:
    stats = {"tanh": OpStats(cases=4, passed=4), "backward x2": OpStats(cases=3, passed=2, failed=1)}
    cause = ("robust", "a second backward() does not add the same gradients to a leaf")
    report = _report(stats, {cause: {"graph": 1}}, ["tanh"])
    report.level = "robust"
    assert "FAIL (a second backward()" in format_report(report, 0)
    report.level = "math"  # its failure belongs to robust
    assert "ok at math; fails above it" in format_report(report, 0)


# -- (c) class differences in words ------------------------------------------------------------------

@pytest.mark.parametrize(("mine", "theirs", "said"), [
    (math.nan, 0.5, "nan where torch gives 0.5"),
    (0.5, math.nan, "0.5 where torch gives nan"),
    (-0.0, 0.0, "-0.0 vs torch's 0.0 (the sign of a zero)"),
    (0.0, -0.0, "0.0 vs torch's -0.0 (the sign of a zero)"),
    (math.inf, 1.0, "inf where torch gives 1.0"),
    (-math.inf, math.inf, "-inf where torch gives inf"),
    (0.0, 1.7e-17, "0.0 where torch gives 1.7e-17"),
    (-1e-17, 1e-17, "-1e-17 where torch gives 1e-17"),
    (1.0, 1.0000001, None),
    (math.nan, math.nan, None),
    (-math.inf, -math.inf, None),
    (-0.0, -0.0, None),
])
def test_class_difference_in_words(mine: float, theirs: float, said: str | None) -> None:
    assert class_difference(mine, theirs) == said
    assert versus(mine, theirs) == (said or f"{mine!r}, torch {theirs!r}")


def test_a_case_passed_across_a_class_has_no_ulp_distance_but_words() -> None:
    st = OpStats()
    st.add(J.IMPRECISE, float(2**62), 0.0, 1.7e-17)  # what the ulp count across 0 amounts to
    st.add(J.IMPRECISE, 3.0, 1.0, 1.0 + 3 * 2**-52)
    assert (st.worst_ulps, st.class_differences, st.class_example) == (3.0, 1, "0.0 where torch gives 1.7e-17")
    text = format_report(_report({"div": st}, {}, ["div"]), 0)
    assert "div: 1 case, e.g. 0.0 where torch gives 1.7e-17" in text
    assert str(2**62) not in text and "4611686018427387904" not in text


def test_a_findings_message_says_the_class() -> None:
    from vetgrad import conformance

    finding = conformance.check_graph(M.spec("sqrt_always_nan"),
                                      Graph((Node("leaf", value=4.0), Node("sqrt", (0,)))))
    assert finding is not None and "nan where torch gives 2.0" in finding.message, finding.message


@pytest.mark.slow
def test_a_campaigns_worst_ulps_never_count_across_classes() -> None:
    """micrograd's double counting keeps +0.0 where torch's grads are -0.0: such cases passed
    with an ulp distance of ~1e17 in the table before."""
    from vetgrad import conformance

    report = conformance.run_campaign(M.spec("no_reset_between_calls"), graphs=120, seed=0,
                                      ops=["div", "mod", "atan2", "add"], shrink=False, max_findings=1)
    assert any(st.class_differences for st in report.per_op.values())
    assert all(st.worst_ulps < 2**52 for st in report.per_op.values()), {
        k: st.worst_ulps for k, st in report.per_op.items()}


# -- (d) the form codes explained --------------------------------------------------------------------

@pytest.mark.slow
def test_form_codes_are_explained_where_they_appear(capsys, tmp_path: Path) -> None:
    pytest.importorskip("micrograd")
    _, out, _ = _run(capsys, tmp_path, "--engine", "micrograd.engine:Value", "--graphs", "10",
                     "--ops", "pow,mul")
    assert any("(forms nn,cn unsupported)" in line for line in out)
    assert FORM_LEGEND in out
    assert main(["--engine", "micrograd.engine:Value", "--show-probe"]) == 0
    assert FORM_LEGEND in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "nc a\nplain number on the right (x * 2)" in capsys.readouterr().out
