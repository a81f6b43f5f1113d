"""The conformance ladder (math < robust < torch) on correct engines written the ways people
write them: each passes --level math with no finding, and shows the ladder it should."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")
pytest.importorskip("mpmath", reason="the harness needs mpmath")

from conformance.campaign import run_campaign
from conformance.cli import ladder_line, main
from conformance.levels import ordinary_case

pytestmark = pytest.mark.torch

GRAPHS = 2000


@pytest.fixture(scope="module")
def float32_engine() -> type:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parent / "engines" / "float32_engine.py"
    spec = importlib.util.spec_from_file_location("_vetgrad_float32_engine", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  (the adapter imports it by name)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Value


def _ladder(engine, **kw):
    report = run_campaign(engine, graphs=GRAPHS, seed=1, max_nodes=12, shrink=False, **kw)
    return report, {lv: ok for lv, ok, _ in report.ladder()}


def test_micrograd_lecture_engine_reaches_math_only() -> None:
    """micrograd 0.1.0 itself: exceptions at 0, a set for _prev, recursive topological sort."""
    pytest.importorskip("micrograd")
    report, ladder = _ladder("micrograd.engine:Value")
    assert report.failed == 0 and not [f for f in report.findings if f.level == "math"], \
        [f.message for f in report.findings[:3]]
    assert ladder == {"math": True, "robust": False, "torch": False}, ladder_line(report)
    causes = {cause for (level, cause) in report.causes if level == "robust"}
    assert any(c.startswith("raises ZeroDivisionError") for c in causes)
    assert "a second backward() does not add the same gradients to a leaf" in causes


def test_float32_engine_passes_math_and_is_said_to_compute_in_float32(float32_engine) -> None:
    report, ladder = _ladder(float32_engine)
    assert report.precision == "float32"
    assert ladder["math"], ladder_line(report) + " " + str([f.message for f in report.findings[:3]])


def test_ieee_careful_textbook_engine_reaches_torch() -> None:
    import mutant_engines as M  # noqa: N812 - as in test_harness_power

    report, ladder = _ladder(M.load_textbook(), max_findings=5)
    assert ladder == {"math": True, "robust": True, "torch": True}, ladder_line(report)


def test_ordinary_excludes_kinks_underflow_and_domain_edges() -> None:
    assert ordinary_case("tanh", (0.5,), (), 0.46211715726000974)
    assert not ordinary_case("relu", (0.0,), (), 0.0)          # the kink
    assert not ordinary_case("sigmoid", (-1000.0,), (), 0.0)   # an underflow, not an exact 0
    assert not ordinary_case("log", (0.0,), (), float("-inf"))
    assert not ordinary_case("maximum", (1.5, 1.5), (), 1.5)   # a tie
    assert ordinary_case("sin", (0.0,), (), 0.0)               # an exact 0 where smooth


@pytest.mark.parametrize("argv", [["--level", "bogus"], ["--higher-order", "4"],
                                  ["--engine", "micrograd.engine:Value", "--higher-order", "2"]])
def test_bad_level_and_higher_order_are_usage_errors(argv, capsys) -> None:
    if "micrograd.engine:Value" in argv:
        pytest.importorskip("micrograd")
    with pytest.raises(SystemExit) if "--engine" not in argv else _NoRaise():
        code = main([*argv, "--graphs", "5"])
        assert code == 2
    err = capsys.readouterr().err
    assert "math" in err or "choose from" in err or "grad()" in err


class _NoRaise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(("error", "cause"), [
    ("lost: the engine exited with status 0 in tanh (node 1, forward)",
     "its process exited (sys.exit or os._exit in an op?)"),
    ("lost: the engine was killed by SIGSEGV in pow (node 2, forward)",
     "its process was killed by a signal (a crash in C code?)"),
    ("lost: no answer within 3 s in exp (node 1, forward): an op or a backward() that never ends?",
     "hangs (no answer within --graph-timeout)"),
    ("lost: the engine raised KeyboardInterrupt in tanh (node 1, forward)",
     "raises KeyboardInterrupt"),
    ("lost: the engine closed the harness's pipe in add (node 3, run alone)",
     "the engine's process was lost"),
    ("ZeroDivisionError: float division by zero", "raises ZeroDivisionError where torch gives inf or nan"),
    ("MemoryError (the engine's process may hold 1 GiB of data: --memory-limit)",
     "raises MemoryError where torch gives inf or nan"),
])
def test_the_cause_of_a_crash_names_how_the_engine_failed(error: str, cause: str) -> None:
    from conformance.levels import exception_cause

    assert exception_cause(error, float("inf")) == cause
