"""Where the engine under test comes from: a file by path, a learner's file that has the name of
one of vetgrad's packages (refused, never a false pass), and a missing harness extra."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from conformance.cli import main

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


def test_a_learners_engine_py_is_refused_by_module_name(learner: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--engine", "engine:Value", *COMMON]) == 2
    err = capsys.readouterr().err
    assert "has the name of vetgrad's own 'engine' package" in err and "--engine ./engine.py:Value" in err


def test_a_learners_engine_py_is_tested_by_path(learner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--engine", "./engine.py:Value", *COMMON]) == 0
    out = capsys.readouterr().out
    assert "engine _vetgrad_user_engine:Value" in out and "passed, 0 failed" in out


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
    assert capsys.readouterr().err.strip() == ("error: the conformance harness needs mpmath, which is "
                                               "not installed: pip install 'vetgrad[conformance]'")
