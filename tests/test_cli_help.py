"""Every command line's --help and usage errors are in plain words (no RST markup from docstrings),
and the usage line names the command as the user ran it."""

from __future__ import annotations

import importlib
import sys

import pytest

MARKUP = ("``", ":mod:", ":func:", ":class:", ":meth:")

# the module whose main(argv) runs the command, the argv before --help, how it is run -> the usage
# line's prog
COMMANDS = [
    ("vetgrad.conformance.cli", [], "python -m vetgrad.conformance", "python -m vetgrad.conformance"),
    ("vetgrad.conformance.cli", [], "vetgrad-conformance", "vetgrad-conformance"),
    ("vetgrad.conformance.cli", ["merge"], "python -m vetgrad.conformance",
     "python -m vetgrad.conformance merge"),
    ("vetgrad.conformance.cli", ["merge"], "vetgrad-conformance", "vetgrad-conformance merge"),
    ("vetgrad.conformance.cli", ["grade"], "vetgrad-conformance", "vetgrad-conformance grade"),
    ("vetgrad.benchmarks.report", [], "python -m vetgrad.benchmarks", "python -m vetgrad.benchmarks"),
    ("vetgrad.benchmarks.verdict", [], "python -m vetgrad.benchmarks.verdict",
     "python -m vetgrad.benchmarks.verdict"),
    ("vetgrad.benchmarks.callgrind_dag", [], "python -m vetgrad.benchmarks.callgrind_dag",
     "python -m vetgrad.benchmarks.callgrind_dag"),
    ("vetgrad.benchmarks.callgrind_harness", [], "python -m vetgrad.benchmarks.callgrind_harness",
     "python -m vetgrad.benchmarks.callgrind_harness"),
    ("vetgrad.nn.demo", [], "python -m vetgrad.nn.demo", "python -m vetgrad.nn.demo"),
]


def _run(module: str, argv: list[str]) -> int:
    try:
        return importlib.import_module(module).main(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        return int(exc.code or 0)


@pytest.mark.parametrize("ask", [["--help"], ["--no-such-option"]])
@pytest.mark.parametrize(("module", "argv", "run_as", "usage"), COMMANDS)
def test_help_is_plain_and_names_the_command_as_run(
        module: str, argv: list[str], run_as: str, usage: str, ask: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # sys.argv[0] as each way of running sets it: the console script's path, or the module's file
    script = f"/venv/bin/{run_as}" if not run_as.startswith("python -m") else "/x/__main__.py"
    monkeypatch.setattr(sys, "argv", [script, *argv, *ask])
    status = _run(module, [*argv, *ask])
    out = capsys.readouterr()
    text = out.out if ask == ["--help"] else out.err
    assert status == (0 if ask == ["--help"] else 2), text
    assert text.startswith(f"usage: {usage} "), text.splitlines()[:1]
    assert not [m for m in MARKUP if m in text], text


def test_python_m_vetgrad_names_the_versions_and_where_to_start() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "vetgrad"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("vetgrad ") and "python -m vetgrad.conformance --engine" in done.stdout
