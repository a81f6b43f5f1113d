"""``vetgrad-conformance grade``: which engines the arguments name, the usage errors (exit 2), and
the proof of the issue: a class folder of six engines (two correct, one buggy, two that do not
load, one that hangs) graded into one table, CSV and JSON, with exit status 1; only correct
engines give 0."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
import pytest
from vetgrad.conformance.run import grade

ROOT = Path(__file__).resolve().parent.parent
LECTURE = (ROOT / "tests" / "engines" / "learners" / "lecture.py").read_text()
TEXTBOOK = M.textbook_source()
BUGGY = M.mutant_source("tanh_grad_1_minus_t")  # tanh's backward multiplies by 1 - t, not 1 - t²
HANG = "import time\n\nwhile True:  # at import: the engine never loads (asleep: no core spent)\n    time.sleep(1)\n"
SYNTAX = "def f(:\n"
IMPORT = "import no_such_module_anywhere\n"
CAMPAIGN = ["--graphs", "30", "--workers", "3"]  # the hanging engine takes one, asleep
HANG_TIMEOUT = "25"  # seconds; each other engine needs ~5 (most of it importing torch)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# -- which engines the arguments name ------------------------------------------------------------

# files in a folder, the arguments (relative to it), the rows: (name, engine as shown)
COLLECT = [
    ({"alice/engine.py": ""}, ["alice"], [("alice", "alice/engine.py:Value")]),
    ({"alice/engine.py": ""}, ["alice/engine.py"], [("alice", "alice/engine.py:Value")]),
    ({"bob.py": ""}, ["bob.py"], [("bob", "bob.py:Value")]),
    ({"c/b/engine.py": "", "c/a/engine.py": "", "c/z.py": "", "c/_x.py": "", "c/d/notes.txt": ""},
     ["c"], [("a", "c/a/engine.py:Value"), ("b", "c/b/engine.py:Value"), ("z", "c/z.py:Value")]),
    ({"c/engine.py": "", "c/a/engine.py": ""}, ["c"], [("c", "c/engine.py:Value")]),
    ({"x/alice/engine.py": "", "y/alice/engine.py": ""}, ["x/alice", "y/alice"],
     [("alice", "x/alice/engine.py:Value"), ("alice-2", "y/alice/engine.py:Value")]),
    ({"alice/engine.py": ""}, ["alice", "alice/engine.py"], [("alice", "alice/engine.py:Value")]),
    ({}, ["mypkg.engine:Value"], [("mypkg.engine:Value", "mypkg.engine:Value")]),
    ({"bob.py": ""}, ["bob.py", "--attr", "Tensor"], [("bob", "bob.py:Tensor")]),
]


@pytest.mark.parametrize(("files", "argv", "rows"), COLLECT)
def test_collect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str],
                 argv: list[str], rows: list[tuple[str, str]]) -> None:
    monkeypatch.chdir(_tree(tmp_path, files))
    args = grade.parser().parse_args(argv)
    engines = grade.collect(args.engines, args.attr)
    assert [(e.name, e.shown) for e in engines] == rows
    for engine in engines:  # a file runs in its own folder, named from there
        if engine.spec.startswith("./"):
            assert (Path(engine.cwd) / engine.spec[2:].rpartition(":")[0]).is_file()


# -- usage errors: exit status 2, an error line naming the problem, no engine run -----------------

USAGE = [
    (["nope/"], "nope/: no such file or folder"),
    (["empty"], "empty: no engine found"),
    (["notes.txt"], "notes.txt: not a Python file"),
    (["mod:"], "mod:: no such file or folder"),
    (["bob.py", "--ops", "tanh,nosuch"], "--ops: unknown op(s) nosuch"),
    (["bob.py", "--graphs", "0"], "expected a positive number"),
    (["bob.py", "--timeout", "-1"], "expected a positive number"),
    (["bob.py", "--level", "all"], "invalid choice: 'all'"),
    (["bob.py", "--attr", "no such"], "--attr must be a class name"),
    (["bob.py", "--csv", "empty"], "--csv empty: is a directory"),
    (["bob.py", "--json", "-"], "--json needs a file name"),
    ([], "the following arguments are required: PATH_OR_SPEC"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE)
def test_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    monkeypatch.chdir(_tree(tmp_path, {"bob.py": TEXTBOOK, "notes.txt": "", "empty/README": ""}))
    assert grade.main(argv) == 2
    out, err = capsys.readouterr()
    assert "error:" in err and message in err
    assert out == ""


# -- pieces of the table -----------------------------------------------------------------------

@pytest.mark.parametrize(("stderr", "line"), [
    ("vetgrad conformance: engine x\nerror: SyntaxError: invalid syntax\n", "SyntaxError: invalid syntax"),
    ("error: first\nerror: second\n\n", "second"),
    ("Traceback (most recent call last):\n  ...\nMemoryError\n", "MemoryError"),
    ("", ""),
])
def test_last_error(stderr: str, line: str) -> None:
    assert grade._last_error(stderr) == line


@pytest.mark.parametrize(("text", "shown"), [
    ("short", "short"),
    ("x" * 100, "x" * 100),
    ("x" * 101, "x" * 99 + "…"),
])
def test_shorten(text: str, shown: str) -> None:
    assert grade._shorten(text) == shown


def test_markdown_escapes_bars_and_marks_missing_values() -> None:
    row = grade.Row("a|b", "a|b.py:Value", "a|b.py", "load error",
                    {"math": None, "robust": None, "torch": None}, first_finding="x | y")
    assert grade.markdown([row]).splitlines()[-1] == r"| a\|b | — | — | — | x \| y | — | — | 0.0 |"


# -- one run's ending, read into a row (a stand-in command for the command line: no torch) ------

REPORT = ("import json, sys; json.dump({'levels': {'math': {'passed': True, 'failed_graphs': 0}, "
          "'robust': {'passed': False}, 'torch': {'passed': False}}, 'graphs': 7, "
          "'tested': {'ops': 2}, 'elapsed_seconds': 0.5, 'findings': [{'level': 'robust', "
          "'op': 'exp', 'message': 'raised\\n OverflowError'}]}, open(sys.argv[1], 'w')); "
          "sys.exit(0)")
# the run's code (report path in sys.argv[1]), its row's status, levels, first finding
RUNS = [
    (REPORT, "checked", [True, False, False], "[robust] exp: raised OverflowError"),
    ("import sys; sys.exit(3)", "crashed", [None] * 3, "the run crashed (exit status 3, no report)"),
    ("import sys; print('Traceback:\\nValueError: bad', file=sys.stderr); sys.exit(1)", "crashed",
     [None] * 3, "the run crashed (exit status 1, no report): ValueError: bad"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "crashed", [None] * 3,
     "the run crashed (killed by SIGSEGV, no report)"),
    ("import sys; print('engine x\\nerror: Value not found', file=sys.stderr); sys.exit(2)",
     "load error", [None] * 3, "does not load: Value not found"),
    ("import time; time.sleep(60)", "timed out", [None] * 3, "timed out: killed after 1 s"),
]


@pytest.mark.parametrize(("code", "status", "levels", "finding"), RUNS)
def test_a_run_becomes_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str,
                             status: str, levels: list[bool | None], finding: str) -> None:
    monkeypatch.setattr(grade, "command", lambda engine, args, report: [sys.executable, "-c", code,
                                                                        report])
    args = grade.parser().parse_args(["x.py", "--timeout", "1"])
    engine = grade.Engine("x", "./x.py:Value", str(tmp_path), "x.py:Value", "x.py")
    row = grade.check_one(engine, args, grade.Runs(), str(tmp_path / "report.json"))
    assert (row.status, list(row.levels.values()), row.first_finding) == (status, levels, finding)
    assert row.reaches_level is (levels[0] is True)


@pytest.mark.slow
def test_a_run_past_its_timeout_is_killed_with_its_whole_process_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)']); open(sys.argv[1], 'w').write(str(p.pid)); "
            "time.sleep(60)")
    monkeypatch.setattr(grade, "command", lambda engine, args, report: [sys.executable, "-c", code,
                                                                        str(pid_file)])
    args = grade.parser().parse_args(["x.py", "--timeout", "2"])
    engine = grade.Engine("x", "./x.py:Value", str(tmp_path), "x.py:Value", "x.py")
    row = grade.check_one(engine, args, grade.Runs(), str(tmp_path / "report.json"))
    assert row.status == "timed out" and 2 <= row.seconds < 10
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # killed; gone once its parent (init, by now) reaps it
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        state = Path(f"/proc/{grandchild}/stat").read_text().split()[2]
        assert state == "Z", "the run's own child outlived the timeout"


# -- the proof: six engines, one table ---------------------------------------------------------

CLASS = {
    "ann/engine.py": HANG,  # first in the class folder: it waits beside the others, not after
    "alice/engine.py": LECTURE,
    "bob/engine.py": TEXTBOOK,
    "carol.py": BUGGY,
    "dave.py": IMPORT,
    "eve.py": SYNTAX,
}
# name, math, robust, torch, reaches math, status, the first finding starts with
ROWS = [
    ("alice", "pass", "fail", "fail", True, "checked", "[robust] "),
    ("ann", "—", "—", "—", False, "timed out", f"timed out: killed after {HANG_TIMEOUT} s"),
    ("bob", "pass", "pass", "pass", True, "checked", ""),
    ("carol", "fail", "fail", "fail", False, "checked", "[math] tanh: "),
    ("dave", "—", "—", "—", False, "load error",
     "does not load: ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
    ("eve", "—", "—", "—", False, "load error", "does not load: SyntaxError: invalid syntax"),
]


def _table(out: str) -> dict[str, list[str]]:
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    assert cells[0] == ["engine", "math", "robust", "torch", "first finding", "ops", "graphs",
                        "seconds"]
    return {c[0]: c for c in cells[1:]}


@pytest.mark.torch
@pytest.mark.slow
def test_six_engines_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    _tree(tmp_path / "class", CLASS)
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    status = grade.main(["class", *CAMPAIGN, "--timeout", HANG_TIMEOUT,
                         "--csv", "grades.csv", "--json", "grades.json"])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert status == 1, err
    table = _table(out)
    assert list(table) == [r[0] for r in ROWS]  # the class folder's order, subfolders first
    assert out.rstrip().endswith("2 passed, 4 failed (level math)")
    rows = {r["name"]: r for r in json.loads((tmp_path / "grades.json").read_text())["engines"]}
    with open(tmp_path / "grades.csv", newline="") as fh:
        csv_rows = {r["engine"]: r for r in csv.DictReader(fh)}
    for name, math, robust, torch, reaches, status_, finding in ROWS:
        cells, row, line = table[name], rows[name], csv_rows[name]
        assert cells[1:4] == [math, robust, torch], name
        assert row["levels"] == {lv: {"pass": True, "fail": False, "—": None}[v]
                                 for lv, v in zip(("math", "robust", "torch"), (math, robust, torch))}
        assert [line["math"], line["robust"], line["torch"]] == [
            "" if v == "—" else v for v in (math, robust, torch)]
        assert row["reaches_level"] is reaches and line["reaches_level"] == str(reaches)
        assert row["status"] == line["status"] == status_, name
        assert row["first_finding"].startswith(finding) and line["first_finding"] == row["first_finding"]
        assert cells[4].startswith(finding[:90]) and len(cells[4]) <= grade.FINDING_WIDTH
        assert bool(finding) == bool(cells[4]), name  # bob's finding column is empty
        checked = status_ == "checked"
        assert (row["ops"] is not None and row["graphs"] >= 30) is checked, name
        assert (cells[5] != "—") is checked and (line["ops"] != "") is checked
    assert rows["alice"]["ops"] < rows["bob"]["ops"]  # the lecture engine has fewer ops
    assert rows["ann"]["seconds"] >= float(HANG_TIMEOUT)
    assert json.loads((tmp_path / "grades.json").read_text())["options"] == {
        "graphs": 30, "seed": 0, "ops": None, "level": "math", "strict": False, "device": "cpu",
        "timeout": float(HANG_TIMEOUT), "attr": "Value"}
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 6 and progress[-1].startswith("[6/6] ")
    assert any(line.startswith(("[1/6] bob: math ✔ robust ✔ torch ✔", "[2/6] bob: math ✔"))
               for line in progress)
    assert took < float(HANG_TIMEOUT) + 30  # the hanging engine ran beside the others


@pytest.mark.torch
@pytest.mark.slow
def test_correct_engines_exit_0_from_the_console_script(tmp_path: Path) -> None:
    """Through the command line (``python -m vetgrad.conformance grade``), a file and a
    module:Value spec (imported from the current folder, as ``--engine`` does)."""
    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    _tree(tmp_path, {"lecture.py": LECTURE, "mypkg/__init__.py": "", "mypkg/engine.py": TEXTBOOK})
    done = subprocess.run([sys.executable, "-m", "vetgrad.conformance", "grade", "lecture.py",
                           "mypkg.engine:Value", "--graphs", "20", "--ops", "tanh,mul,add",
                           "--workers", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    table = _table(done.stdout)
    assert list(table) == ["lecture", "mypkg.engine:Value"]
    assert all(cells[1] == "pass" and cells[5] == "3" for cells in table.values())
    assert "usage: python -m vetgrad.conformance grade" in subprocess.run(
        [sys.executable, "-m", "vetgrad.conformance", "grade", "--help"],
        capture_output=True, text=True, timeout=60).stdout
