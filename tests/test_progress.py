"""Progress on stderr: periodic status off a terminal, a live line on one, each new kind of finding
at once (at or below the chosen level), the header first; for one and two worker processes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vetgrad.conformance.dags.graph import Graph, Node
from vetgrad.conformance.judging.results import Finding
from vetgrad.conformance.reporting.progress import Progress, finding_line

from tests.engines.mutants import mutant_source

ROOT = Path(__file__).resolve().parents[1]


def _finding(level: str = "math", op: str = "tanh", cause: str = "wrong derivative",
             index: int = 7) -> Finding:
    graph = Graph((Node("leaf", value=0.5), Node("tanh", (0,))))
    return Finding("local-grad", op, 1, "d/d(arg 0) of tanh(0.5) = 1.0, torch 0.78", graph, "cpu",
                   index=index, level=level, cause=cause)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_periodic_status_off_a_terminal() -> None:
    out = io.StringIO()
    with Progress(1000, workers=2, stream=out, interval=0.05) as p:
        p.checked(256, 3, worker=0)
        p.checked(256, 1, worker=1)
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and "\r" not in out.getvalue()
    assert "512/1,000 graphs, 4 failed" in lines[-1] and lines[-1].endswith("— checking")


def test_live_line_on_a_terminal_is_redrawn_and_cleared() -> None:
    out = _Tty()
    with Progress(None, stream=out) as p:
        p.checked(10, 0)
        time.sleep(0.5)
    text = out.getvalue()
    assert text.count("\r\x1b[K") >= 2 and "10 graphs, 0 failed" in text
    assert text.endswith("\r\x1b[K")  # the live line does not stay under the report


@pytest.mark.parametrize("level, printed", [("math", True), ("robust", True), ("torch", True)])
def test_a_math_finding_is_printed_at_every_level(level: str, printed: bool) -> None:
    out = io.StringIO()
    Progress(10, stream=out, level=level).found(_finding("math"))
    assert ("found [math] tanh" in out.getvalue()) is printed


@pytest.mark.parametrize("level, printed", [("math", False), ("robust", False), ("torch", True)])
def test_a_torch_convention_is_printed_only_when_asked(level: str, printed: bool) -> None:
    out = io.StringIO()
    Progress(10, stream=out, level=level).found(_finding("torch", "relu", "subgradient at a kink"))
    assert ("found [torch] relu" in out.getvalue()) is printed


def test_each_kind_of_finding_once() -> None:
    out = io.StringIO()
    p = Progress(10, stream=out)
    for index in range(5):
        p.found(_finding(index=index))  # the same kind in every graph
    p.found(_finding(op="exp"))
    p.found(_finding(cause="another cause"))
    assert out.getvalue().count("found ") == 3


def test_finding_line_names_where_and_stays_one_line() -> None:
    f = _finding(index=-1)
    f.message = "x" * 500 + "\nsecond line"
    line = finding_line(f)
    assert "\n" not in line and line.endswith("— the edge sweep") and len(line) < 250


def test_finding_line_escapes_what_a_terminal_would_obey() -> None:
    f = _finding()
    f.message = "engine raised ValueError: \x1b[2J\x1b[31mgotcha\x07"
    line = finding_line(f)
    assert "\x1b" not in line and "\x07" not in line and "\\x1b[2J" in line


def test_the_phase_says_starting_until_a_batch_is_judged() -> None:
    p = Progress(100, stream=io.StringIO())
    assert "starting" in p.status()
    p.checked(0, 0)  # the edge sweep judged: checking from now on
    assert p.status().endswith("— checking")


def test_next_stage_keeps_the_counts_of_the_last() -> None:
    out = io.StringIO()
    p = Progress(100, stream=out)
    p.checked(100, 2)
    p.next_stage("checking on cuda")
    p.checked(40, 1)
    assert "140/100 graphs, 3 failed" in p.status() and p.status().endswith("checking on cuda")


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.slow
def test_cli_prints_header_first_then_progress_and_findings_before_the_end(
        tmp_path: Path, workers: int) -> None:
    engine = tmp_path / "tanh_mutant.py"
    engine.write_text(mutant_source("tanh_grad_1_minus_t"))
    env = dict(os.environ, VETGRAD_PROGRESS_INTERVAL="0.2", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "vetgrad.conformance", "--engine", f"{engine}:Value", "--graphs", "600",
         "--ops", "tanh,mul,add", "--workers", str(workers), "--max-findings", "3",
         "--device", "cpu"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("vetgrad conformance: engine ")
    err = proc.stderr.splitlines()
    found = [i for i, line in enumerate(err) if line.startswith("  found [math] tanh:")]
    assert len(found) == 1, proc.stderr  # once, though every graph with tanh fails
    confirming = [i for i, line in enumerate(err) if "— confirming and shrinking" in line]
    assert confirming and found[0] < confirming[0]  # printed while checking, not after it
    assert any("graphs," in line and "failed" in line for line in err)


@pytest.mark.parametrize("text, shown", [
    ("plain text", "plain text"),
    ("ValueError: \x1b[31mred\x1b[0m", "ValueError: \\x1b[31mred\\x1b[0m"),
    ("bell\x07 and tab\t", "bell\\x07 and tab\\t"),
    ("two\nlines", "two\nlines"),
])
def test_printable_escapes_control_characters(text: str, shown: str) -> None:
    from vetgrad.conformance.judging.results import printable

    assert printable(text) == shown
