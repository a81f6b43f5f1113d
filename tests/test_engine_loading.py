"""Where the engine under test comes from: a file by path, a missing file, a missing harness extra,
and the workers' fork server in a learner's folder (tests/test_learner_folder.py: every route)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from vetgrad.conformance.run.cli import main

pytestmark = pytest.mark.torch
TEXTBOOK = Path(__file__).parent / "engines" / "textbook.py"
COMMON = ["--graphs", "20", "--device", "cpu", "--ops", "tanh,mul,add", "--show", "0",
          "--no-shrink"]


@pytest.fixture
def learner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A learner's folder holding their engine as ``engine.py`` (a correct textbook engine)."""
    (tmp_path / "engine.py").write_text(TEXTBOOK.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_learners_engine_py_is_tested_by_path(learner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--engine", "./engine.py:Value", *COMMON]) == 0
    out = capsys.readouterr().out
    assert "engine ./engine.py:Value" in out and "passed, 0 failed" in out


def test_a_file_that_does_not_exist_is_a_usage_error(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--engine", f"{tmp_path}/nope.py:Value", *COMMON]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_missing_extra_is_one_line_saying_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mpmath" else real(name, *a))
    assert main(COMMON) == 2
    assert capsys.readouterr().err.strip() == (
        "error: the conformance harness needs mpmath, which is not installed: pip install "
        "'vetgrad[conformance]' (in a clone of vetgrad: pip install -e '.[conformance]'); for "
        "PyTorch's CPU-only wheel (no multi-GB CUDA download): pip install torch --index-url "
        "https://download.pytorch.org/whl/cpu")




def _python(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.slow
def test_python_m_conformance_runs_in_a_learners_folder(learner: Path, workers: str) -> None:
    """`python -m` puts the folder first on sys.path, and the workers' fork server starts as
    `python -c` (the folder first too; 600 graphs: a batch for each worker): the learner's
    engine.py is theirs, and vetgrad's parts are under ``vetgrad``."""
    by_path = _python(["-m", "vetgrad.conformance", "--engine", "./engine.py:Value", *COMMON,
                       "--workers", workers, "--graphs", "600", "--json", "r.json"], learner)
    assert by_path.returncode == 0 and "Traceback" not in by_path.stderr, by_path.stderr
    assert by_path.stdout.strip().endswith("passed, 0 failed")


@pytest.mark.slow
def test_a_reproducer_of_an_engine_given_by_path_loads_that_file(learner: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py

    (learner / "engine.py").write_text(M.mutant_source("tanh_grad_1_minus_t"))
    assert main(["--engine", "./engine.py:Value", *COMMON, "--json", "r.json"]) == 1
    capsys.readouterr()
    data = json.loads((learner / "r.json").read_text())
    assert data["engine_version"] is None  # a file is no distribution
    text = next(f["reproducer"] for f in data["findings"] if f["op"] == "tanh")
    assert f"spec_from_file_location('_vetgrad_user_engine', {str(learner / 'engine.py')!r})" in text
    (learner / "repro.py").write_text(text)
    bad = _python(["repro.py"], learner)
    assert bad.returncode == 1 and "<-- differs" in bad.stdout, bad.stdout + bad.stderr
    (learner / "engine.py").write_text(TEXTBOOK.read_text())  # the learner fixes the bug
    good = _python(["repro.py"], learner)
    assert good.returncode == 0, good.stdout + good.stderr
