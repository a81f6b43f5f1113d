"""A learner's folder: ``engine.py`` (micrograd's own file name), ``nn.py``, ``conformance.py`` and
``tests/test_engine.py`` doing ``from engine import Value``. Every route tests *their* engine and
nothing of theirs is shadowed by vetgrad (whose parts all live under ``vetgrad``): a correct engine
passes (exit 0), a planted bug fails (exit 1) and is named. Runs against the installed vetgrad."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py

pytestmark = pytest.mark.torch

BUG = "tanh_grad_1_minus_t"  # tanh's backward multiplies by (1 - t) instead of (1 - t²)
ARGS = ["--graphs", "30", "--ops", "tanh,mul,add", "--device", "cpu", "--no-shrink"]
# Learner files vetgrad must never import in place of its own parts.
TRAP = 'raise RuntimeError("vetgrad imported the learner\'s {name}")\n'
LEARNER_TEST = '''\
import math

from engine import Value


def test_tanh_backward():
    x = Value(0.5)
    y = x.tanh()
    y.backward()
    assert abs(x.grad - (1 - math.tanh(0.5) ** 2)) < 1e-12
    assert Value.__module__ == "engine"
'''
CONSOLE = Path(sys.executable).with_name("vetgrad-conformance")
PLUGIN_REGISTERED = any(e.name == "vetgrad" for e in importlib.metadata.entry_points(group="pytest11"))
# route -> the command run in the learner's folder
ROUTES = {
    "console script": [str(CONSOLE), "--engine", "engine:Value", *ARGS],
    "python -m": [sys.executable, "-m", "vetgrad.conformance", "--engine", "engine:Value", *ARGS],
    # the pytest script, not python -m pytest: the script does not put the folder on sys.path
    "pytest plugin": [str(CONSOLE.with_name("pytest")), "-q", "-p", "no:cacheprovider",
                      *([] if PLUGIN_REGISTERED else ["-p", "vetgrad.conformance.pytest_plugin"]),
                      "--vetgrad-engine", "engine:Value", "--vetgrad-graphs", "30",
                      "--vetgrad-ops", "tanh,mul,add", "-k", "vetgrad"],
    "python -c check_engine": [sys.executable, "-c",
                               "from vetgrad.conformance import check_engine\n"
                               "r = check_engine('engine:Value', graphs=30, ops=['tanh', 'mul', 'add'])\n"
                               "print(r.engine, r.failed, *[f.message for f in r.findings[:1]])\n"
                               "raise SystemExit(1 if r.failed else 0)"],
    "their own tests": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
}


def _folder(root: Path, buggy: bool) -> Path:
    (root / "engine.py").write_text(M.mutant_source(BUG) if buggy else M.textbook_source())
    for name in ("nn.py", "conformance.py", "benchmarks.py"):
        (root / name).write_text(TRAP.format(name=name))
    (root / "tests").mkdir()
    (root / "tests" / "test_engine.py").write_text(LEARNER_TEST)
    (root / "tests" / "conftest.py").write_text(  # as a learner's project makes engine.py importable
        "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent.parent))\n")
    return root


@pytest.mark.parametrize("buggy", [False, True], ids=["correct", "tanh bug"])
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.slow
def test_every_route_tests_the_learners_engine(tmp_path: Path, route: str, buggy: bool) -> None:
    assert CONSOLE.exists(), f"{CONSOLE} missing: vetgrad is not installed in this environment"
    done = subprocess.run(ROUTES[route], cwd=_folder(tmp_path, buggy), capture_output=True,
                          text=True, timeout=300)
    said = done.stdout + done.stderr
    assert "vetgrad imported the learner's" not in said and "Traceback" not in done.stderr, said
    assert done.returncode == (1 if buggy else 0), said
    if buggy and route != "their own tests":
        assert "tanh" in said and ("d/d" in said or "grad" in said), said
