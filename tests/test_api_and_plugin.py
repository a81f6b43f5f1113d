"""The harness inside an engine author's own code: the Python API and the pytest plugin."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad import conformance
from vetgrad.conformance.graph import Const, Graph, Node

pytestmark = pytest.mark.torch
pytest_plugins = ["pytester"]


def test_check_engine_judges_at_a_level() -> None:
    spec = M.spec("relu_grad_1_at_0")  # a torch convention, not a math bug
    assert check_level(spec, "math").failed == 0
    assert check_level(spec, "torch").failed > 0
    with pytest.raises(ValueError, match="level must be one of math, robust, torch"):
        conformance.check_engine(spec, level="bogus")


def check_level(spec: str, level: str) -> conformance.Report:
    return conformance.check_engine(spec, graphs=30, ops=["relu", "add"], level=level)


def test_check_engine_passes_ours_and_raises_with_a_reproducer_on_a_bug() -> None:
    assert conformance.check_engine("vetgrad.engine:Value", graphs=40).failed == 0
    with pytest.raises(conformance.ConformanceError, match=r"(?s)local-grad in tanh.*reproducer:.*def build_engine"):
        conformance.check_engine(M.spec("tanh_grad_1_minus_t"), graphs=40, ops=["tanh", "add"],
                                 raise_on_failure=True)
    with pytest.raises(ValueError, match="graphs must be at least 1"):
        conformance.check_engine("vetgrad.engine:Value", graphs=0)


@pytest.mark.parametrize(("engine", "kind"), [("vetgrad.engine:Value", None), ("mutant", "local-grad")])
def test_check_graph_judges_one_graph(engine: str, kind: str | None) -> None:
    spec = M.spec("tanh_grad_1_minus_t") if engine == "mutant" else engine
    graph = Graph((Node("leaf", value=0.5), Node("tanh", (0,)), Node("mul", (1, Const(2.0)))))
    finding = conformance.check_graph(spec, graph)
    assert (finding and finding.kind) == kind
    if finding:
        assert "x1 = x0.tanh()" in finding.reproducer


def test_check_graph_refuses_a_form_the_engine_lacks() -> None:
    import micrograd.engine

    graph = Graph((Node("leaf", value=0.5), Node("pow", (Const(2.0), 0))))  # 2 ** x
    with pytest.raises(ValueError, match="does not offer pow in form 'cn'"):
        conformance.check_graph(micrograd.engine.Value, graph)


def _plugin_args(pytestconfig: pytest.Config) -> list[str]:
    # installed (tox): the pytest11 entry point loaded it; from the source tree: load it by name
    return [] if pytestconfig.pluginmanager.has_plugin("vetgrad") else ["-p", "vetgrad.conformance.pytest_plugin"]


def test_plugin_adds_a_test_per_op_that_fails_with_the_finding(pytester: pytest.Pytester,
                                                                 pytestconfig: pytest.Config) -> None:
    pytester.makepyfile("def test_own():\n    assert True\n")
    xml = Path(pytester.path) / "report.xml"
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine",
                                M.spec("tanh_grad_1_minus_t"), "--vetgrad-graphs", "30",
                                "--vetgrad-ops", "tanh,add,mul", f"--junitxml={xml}")
    result.assert_outcomes(passed=5, failed=1)  # test_own, add, mul, graph, backward x2; tanh fails
    result.stdout.fnmatch_lines(["*FAILED*test_conformance[[]tanh[]]*local-grad in tanh*"])
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert {"test_conformance[tanh]", "test_conformance[add]", "test_conformance[backward x2]"} <= set(cases)
    failure = cases["test_conformance[tanh]"].find("failure")
    assert failure is not None and "def build_engine" in (failure.text or failure.get("message", ""))


def test_plugin_judges_at_the_level_asked(pytester: pytest.Pytester,
                                          pytestconfig: pytest.Config) -> None:
    """A torch-convention bug (relu'(0) = 1) fails at --vetgrad-level torch only."""
    spec = M.spec("relu_grad_1_at_0")
    args = [*_plugin_args(pytestconfig), "--vetgrad-engine", spec, "--vetgrad-graphs", "30",
            "--vetgrad-ops", "relu,add"]
    pytester.runpytest(*args, "--vetgrad-level", "math").assert_outcomes(passed=4)
    result = pytester.runpytest(*args, "--vetgrad-level", "torch")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["local-grad in relu (*level torch): *"])


def test_plugin_adds_nothing_without_its_option(pytester: pytest.Pytester,
                                                pytestconfig: pytest.Config) -> None:
    pytester.makepyfile("def test_own():\n    assert True\n")
    pytester.runpytest(*_plugin_args(pytestconfig)).assert_outcomes(passed=1)


def test_plugin_refuses_an_unknown_op(pytester: pytest.Pytester, pytestconfig: pytest.Config) -> None:
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", "vetgrad.engine:Value",
                                "--vetgrad-ops", "tanh,bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vetgrad-ops: unknown op(s) bogus*"])
