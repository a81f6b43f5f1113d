"""The harness inside an engine author's own code: the Python API and the pytest plugin."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad import conformance
from vetgrad.conformance.dags.graph import Const, Graph, Node

pytestmark = pytest.mark.torch
pytest_plugins = ["pytester"]


@pytest.mark.slow
def test_check_engine_judges_at_a_level() -> None:
    spec = M.spec("relu_grad_1_at_0")  # a torch convention, not a math bug
    assert check_level(spec, "math").failed == 0
    assert check_level(spec, "torch").failed > 0
    with pytest.raises(ValueError, match="level must be one of math, robust, torch"):
        conformance.check_engine(spec, level="bogus")


def check_level(spec: str, level: str) -> conformance.Report:
    return conformance.check_engine(spec, graphs=30, ops=["relu", "add"], level=level)


@pytest.mark.slow
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


FAST = ["--vetgrad-graphs", "30", "--vetgrad-ops", "tanh,mul,add"]
TANH_BUG = "tanh_grad_1_minus_t"


@pytest.mark.parametrize(("args", "lines"), [
    ([], ["collected 6 items", "<Dir *>", "  <Module test_own.py>", "<EngineCollector vetgrad[[]{spec}[]]>",
          "  <ConformanceItem tanh>", "  <ConformanceItem mul>", "  <ConformanceItem add>",
          "  <ConformanceItem graph>", "  <ConformanceItem backward x2>", "*6 tests collected*"]),
    (["-q"], ["test_own.py::test_own", "vetgrad[[]{spec}[]]::tanh", "vetgrad[[]{spec}[]]::add",
              "vetgrad[[]{spec}[]]::backward x2", "6 tests collected*"]),
    (["-q", "-k", "mul"], ["vetgrad[[]{spec}[]]::mul", "1/6 tests collected (5 deselected)*"]),
    (["-q", "-k", "vetgrad and not mul"], ["vetgrad[[]{spec}[]]::tanh", "vetgrad[[]{spec}[]]::add",
                                           "*4/6 tests collected (2 deselected)*"]),
], ids=["tree", "node ids", "-k an op", "-k the engine"])
def test_plugin_items_exist_at_collection(pytester: pytest.Pytester, pytestconfig: pytest.Config,
                                          args: list[str], lines: list[str]) -> None:
    """Collected like any tests: listed and counted by --collect-only, selected by -k; no
    campaign runs for it (only the probe)."""
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    spec = M.spec(TANH_BUG)
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", spec, *FAST,
                                "--collect-only", *args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([line.format(spec=spec) for line in lines])


@pytest.mark.slow
def test_plugin_skips_an_op_the_engine_lacks_at_collection(pytester: pytest.Pytester,
                                                           pytestconfig: pytest.Config) -> None:
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", "micrograd.engine:Value",
                                "--vetgrad-graphs", "30", "--vetgrad-ops", "relu,add", "-ra")
    result.assert_outcomes(passed=4)  # relu, add, graph, backward x2
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", "micrograd.engine:Value",
                                "-k", "tanh", "-rs")  # every op: tanh is collected, then skipped
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] vetgrad[[]micrograd.engine:Value[]]: the engine does "
                                 "not offer tanh (no tanh)"])


@pytest.mark.slow
def test_plugin_fails_an_op_with_the_finding_in_junit_and_json(pytester: pytest.Pytester,
                                                               pytestconfig: pytest.Config) -> None:
    import json

    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    xml, out = Path(pytester.path) / "report.xml", Path(pytester.path) / "report.json"
    spec = M.spec(TANH_BUG)
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", spec, *FAST,
                                f"--junitxml={xml}", "--vetgrad-json", out.name)
    result.assert_outcomes(passed=5, failed=1)  # test_own, add, mul, graph, backward x2; tanh fails
    result.stdout.fnmatch_lines([f"vetgrad: report written to {out}",
                                 f"FAILED vetgrad[[]{spec}[]]::tanh*"])
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert set(cases) == {("test_own", "test_own"),
                          *((f"vetgrad[{spec}]", name) for name in ("add", "mul", "tanh", "graph", "backward x2"))}
    failure = cases[f"vetgrad[{spec}]", "tanh"].find("failure")
    assert failure is not None and "local-grad in tanh" in failure.get("message", "")
    assert "def build_engine" in (failure.text or "")
    report = json.loads(out.read_text())
    assert (report["engine"], report["graphs"] > 30, report["options"]["level"]) == (spec, True, "math")
    assert [f["op"] for f in report["findings"]][:1] == ["tanh"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_plugin_checks_the_engine_py_of_the_folder_it_runs_in(pytester: pytest.Pytester,
                                                             pytestconfig: pytest.Config) -> None:
    """``engine:Value`` is the engine.py where pytest runs, though this process's sys.path lacks
    that folder (as the ``pytest`` script's does): the learner's bug is found."""
    pytester.path.joinpath("engine.py").write_text(M.mutant_source(TANH_BUG))
    assert str(pytester.path) not in sys.path
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", "engine:Value",
                                "--vetgrad-graphs", "30", "--vetgrad-ops", "tanh,add")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED vetgrad[[]engine:Value[]]::tanh*"])
    assert str(pytester.path) not in sys.path  # put there for the probe and the campaign only


# configuration file -> its text with the settings {engine}, 30 graphs, seed 7, ops relu,add, level torch
CONFIG_FILES = {
    "pytest.ini": "[pytest]\nvetgrad_engine = {engine}\nvetgrad_graphs = 30\nvetgrad_seed = 7\n"
                  "vetgrad_ops = relu,add\nvetgrad_level = torch\n",
    "pyproject.toml": '[tool.pytest.ini_options]\nvetgrad_engine = "{engine}"\nvetgrad_graphs = "30"\n'
                      'vetgrad_seed = "7"\nvetgrad_ops = "relu,add"\nvetgrad_level = "torch"\n',
    "pyproject.toml [tool.pytest]": '[tool.pytest]\nvetgrad_engine = "{engine}"\nvetgrad_graphs = 30\n'
                                    'vetgrad_seed = 7\nvetgrad_ops = "relu,add"\nvetgrad_level = "torch"\n',
}


@pytest.mark.parametrize("config_file", list(CONFIG_FILES))
@pytest.mark.slow
def test_plugin_reads_its_settings_from_the_configuration_file(
        pytester: pytest.Pytester, pytestconfig: pytest.Config, config_file: str) -> None:
    """The header echoes the settings in effect: the file's, and the command line's where given."""
    spec = M.spec("relu_grad_1_at_0")
    pytester.path.joinpath(config_file.split()[0]).write_text(CONFIG_FILES[config_file].format(engine=spec))
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--collect-only", "-q")
    result.stdout.fnmatch_lines([f"vetgrad[[]{spec}[]]::relu", "4 tests collected*"])
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--collect-only",
                                "--vetgrad-level", "robust", "--vetgrad-seed", "3")
    result.stdout.fnmatch_lines([f"vetgrad: engine {spec}, level robust, 30 graphs, seed 3, ops relu,add"])


@pytest.mark.slow
def test_plugin_runs_at_the_configured_level_unless_the_command_line_says(
        pytester: pytest.Pytester, pytestconfig: pytest.Config) -> None:
    spec = M.spec("relu_grad_1_at_0")
    pytester.makeini(CONFIG_FILES["pytest.ini"].format(engine=spec))
    pytester.runpytest(*_plugin_args(pytestconfig)).assert_outcomes(passed=3, failed=1)
    pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-level", "math").assert_outcomes(passed=4)


def test_plugin_adds_nothing_without_its_option(pytester: pytest.Pytester,
                                                pytestconfig: pytest.Config) -> None:
    pytester.makepyfile("def test_own():\n    assert True\n")
    pytester.runpytest(*_plugin_args(pytestconfig)).assert_outcomes(passed=1)


# what the engine's folder holds, the arguments -> the one usage error
USAGE_ERRORS = {
    "no such module": ({}, ["--vetgrad-engine", "nosuch_engine:Value"],
                       "--vetgrad-engine nosuch_engine:Value: cannot import module 'nosuch_engine': "
                       "ModuleNotFoundError: No module named 'nosuch_engine'"),
    "SyntaxError": ({"syntax_engine": "class Value(:\n"}, ["--vetgrad-engine", "syntax_engine:Value"],
                    "--vetgrad-engine syntax_engine:Value: cannot import module 'syntax_engine': "
                    "SyntaxError: *"),
    "no such attribute": ({"attr_engine": "class Node:\n    pass\n"}, ["--vetgrad-engine", "attr_engine:Value"],
                          "--vetgrad-engine attr_engine:Value: module 'attr_engine' has no attribute 'Value'"),
    "no such file": ({}, ["--vetgrad-engine", "./nosuch.py:Value"],
                     "--vetgrad-engine './nosuch.py:Value': no such file './nosuch.py'*"),
    "not module:attr": ({}, ["--vetgrad-engine", "engine"],
                        "--vetgrad-engine must look like module:attr (e.g. engine:Value), got 'engine'"),
    "unknown op": ({}, ["--vetgrad-engine", "vetgrad.engine:Value", "--vetgrad-ops", "tanh,bogus"],
                   "--vetgrad-ops: unknown op(s) bogus*"),
    "op not offered": ({}, ["--vetgrad-engine", "micrograd.engine:Value", "--vetgrad-ops", "tanh,add"],
                       "--vetgrad-engine micrograd.engine:Value: --vetgrad-ops tanh,add: the engine "
                       "does not offer tanh (tanh: no tanh); it offers add, *"),
    "no graphs": ({}, ["--vetgrad-engine", "vetgrad.engine:Value", "--vetgrad-graphs", "0"],
                  "--vetgrad-graphs: must be at least 1, got 0"),
    "level in the ini": ({"pytest.ini": "[pytest]\nvetgrad_level = highest\n"},
                         ["--vetgrad-engine", "vetgrad.engine:Value"],
                         "vetgrad_level (ini): expected one of math, robust, torch, got 'highest'"),
    "json not writable": ({}, ["--vetgrad-engine", "vetgrad.engine:Value", "--vetgrad-json", "no/such/r.json"],
                          "--vetgrad-json */no/such/r.json: cannot write there*"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_plugin_reports_an_engine_it_cannot_use_as_one_usage_error(
        pytester: pytest.Pytester, pytestconfig: pytest.Config, case: str) -> None:
    files, args, error = USAGE_ERRORS[case]
    for name, text in files.items():
        pytester.path.joinpath(name if "." in name else f"{name}.py").write_text(text)
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    result = pytester.runpytest(*_plugin_args(pytestconfig), *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr.lines
    result.stderr.fnmatch_lines([f"ERROR: {error}"])
    result.stdout.no_fnmatch_line("*passed*")
