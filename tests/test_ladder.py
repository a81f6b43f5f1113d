"""The conformance ladder (math < robust < torch) on correct engines written the ways people
write them: each passes --level math with no finding, and shows the ladder it should."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")
pytest.importorskip("mpmath", reason="the harness needs mpmath")

from vetgrad.conformance.judging.levels import ordinary_case
from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.run.cli import ladder_line, main

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_float32_engine_passes_math_and_is_said_to_compute_in_float32(float32_engine) -> None:
    report, ladder = _ladder(float32_engine)
    assert report.precision == "float32"
    assert ladder["math"], ladder_line(report) + " " + str([f.message for f in report.findings[:3]])


@pytest.mark.slow
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


# The math level's ordinary region per op (the row's ``ordinary``): where every textbook formula of
# the op in Python floats is finite and accurate; a zero derivative only where it is exact.
@pytest.mark.parametrize(("op", "inputs", "value", "derivs", "form", "ordinary"), [
    ("tanh", (837.0,), 1.0, (0.0,), None, False),              # (e**2x - 1)/(e**2x + 1) overflows
    ("tanh", (35.0,), 1.0, (0.0,), None, False),               # flat: tanh'(35) = 4e-30, torch 0.0
    ("tanh", (12.0,), 1.0, (1.5e-10,), None, False),           # 1 - t**2 cancels to 1e-6 relative
    ("tanh", (8.5,), 0.99999991, (1.66e-7,), None, True),
    ("sigmoid", (59.0,), 1.0, (0.0,), None, False),            # sigmoid'(59) = 2.4e-26, torch 0.0
    ("sigmoid", (-800.0,), 0.0, (0.0,), None, False),          # 1/(1 + e**800) overflows
    ("sigmoid", (3.0,), 0.9525741268224334, (0.045176659730912,), None, True),
    ("softplus", (800.0,), 800.0, (1.0,), None, False),        # log(1 + e**800) overflows
    ("pow", (-1.0, 0.5), float("nan"), (float("nan"), float("nan")), "nn", False),
    ("pow", (-1.0, 2.0), 1.0, (float("nan"), float("nan")), "nn", False),  # d/dy = log(-1)
    ("pow", (-1.5, 2.0), 2.25, (-3.0, float("nan")), "nc", True),  # x ** 2 at a negative x
    ("pow", (2.0, 1.5), 2.8284271247461903, (2.1213203435596424, 1.9605163), "nn", True),
    ("relu", (-1.5,), 0.0, (0.0,), None, True),                # value and derivative exactly 0
    ("mul", (0.0, 1.5), 0.0, (1.5, 0.0), None, True),          # d/db = a = 0 exactly
])
def test_ordinary_region_per_op(op, inputs, value, derivs, form, ordinary) -> None:
    assert ordinary_case(op, inputs, (), value, derivs, form) is ordinary


# An engine at least as close to the exact value as torch is never failed for it.
@pytest.mark.parametrize(("mine", "theirs", "exact", "verdict"), [
    (2.3802664086944e-26, 0.0, 2.3802664086944e-26, "imprecise"),  # sigmoid'(59), torch 0.0
    (7.9e-31, 0.0, 7.9e-31, "imprecise"),                           # tanh'(35)
    (3.0e-26, 0.0, 2.3802664086944e-26, "imprecise"),               # off, but closer than torch
    (1.0e-20, 0.0, 2.3802664086944e-26, "fail"),                     # farther than torch
    (0.5, 0.46211715726000974, 0.46211715726000974, "fail"),
])
def test_the_exact_value_decides_where_torch_rounds_to_zero(mine, theirs, exact, verdict) -> None:
    from vetgrad.conformance.judging.number import judge

    assert judge(mine, theirs, lambda: (exact, abs(exact)), False)[0] == verdict


# RecursionError: a bug at math on a shallow graph (x - y calling itself), robust on a deep one.
@pytest.mark.parametrize(("depth", "level", "cause"), [
    (1, "math", "RecursionError on a shallow graph (infinite recursion: a method that calls itself?)"),
    (30, "math", "RecursionError on a shallow graph (infinite recursion: a method that calls itself?)"),
    (2500, "robust", "RecursionError on a deep graph (a recursive topological sort)"),
])
def test_recursion_error_is_judged_by_the_graphs_depth(depth, level, cause) -> None:
    from vetgrad.conformance.dags.graph import Graph, Node
    from vetgrad.conformance.judging.checker import Checker

    nodes = [Node("leaf", value=0.5)] + [Node("add", (i, i)) if i % 7 == 6 else Node("neg", (i,))
                                         for i in range(depth)]
    graph = Graph(tuple(nodes))
    values = [0.5 * (-1) ** i for i in range(len(nodes))]
    assert Checker._crash_level(graph, len(nodes) - 1, "RecursionError: maximum recursion depth exceeded",
                                values[-1], values, True) == (level, cause)


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
    from vetgrad.conformance.judging.levels import exception_cause

    assert exception_cause(error, float("inf")) == cause


# Correct engines written the way learners write them: math ✔ whatever the graph count (the
# lecture's tanh via exp overflows at x = 837, the exact sigmoid' beats torch's 0.0 at x = 59).
@pytest.mark.parametrize("name", ["lecture", "sigmoid_exact"])
@pytest.mark.slow
def test_correct_learner_engines_reach_math(name: str, tmp_path) -> None:
    from pathlib import Path

    from tests.engines.learners import variants as V  # noqa: N812

    path = (Path(__file__).parent / "engines" / "learners" / "lecture.py" if name == "lecture"
            else V.write_learner(name, tmp_path))
    engine = f"{path}:Value"
    report = run_campaign(engine, graphs=GRAPHS, seed=3, max_nodes=30, shrink=False, max_findings=3)
    ladder = {lv: ok for lv, ok, _ in report.ladder()}
    assert ladder["math"], ladder_line(report)
    assert not ladder["robust"]  # its Python floats raise at the extremes: a robust finding


# A forward crash is judged on the engine's own inputs: a divisor that rounding made exactly 0.0 in
# the engine (torch's is tiny and ordinary) is an exception where torch gives inf: robust.
@pytest.mark.parametrize(("engine_divisor", "level"), [(0.0, "robust"), (-0.00083, "math")])
def test_a_forward_crash_is_judged_on_the_engines_own_inputs(engine_divisor, level) -> None:
    from vetgrad.conformance.dags.graph import Graph, Node
    from vetgrad.conformance.judging.checker import Checker
    from vetgrad.conformance.judging.results import GraphResult
    from vetgrad.conformance.reference.torch_run import TorchRun
    from vetgrad.conformance.subject.adapters import load_adapter
    from vetgrad.conformance.subject.execute import EngineRun

    from tests.engines.learners.variants import load

    graph = Graph((Node("leaf", value=1.0), Node("leaf", value=-0.00083), Node("div", (0, 1))))
    checker = Checker(load_adapter(load()), "cpu", False)
    run = EngineRun([1.0, engine_divisor], [], (2, "ZeroDivisionError: float division by zero"))
    ref = TorchRun([1.0, -0.00083, 1.0 / -0.00083], [1.0, 1.0, 1.0])
    (finding,) = checker._judge_graph(graph, run, [], [], ref, GraphResult(0))
    assert (finding.kind, finding.level) == ("crash", level)
