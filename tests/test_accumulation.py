"""Accumulation bugs named (conformance/judging/accumulation.py): the lecture engine with ``=`` for ``+=``
in one op's backward, a topological order walked forwards or revisiting nodes; the first finding
at ``math`` names the op (or backward()) and the cause, on a 2-4 node graph whose reproducer
exits 1. Correct engines (a set ``_prev`` or a tuple) get no such finding."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.judging import accumulation as A  # noqa: N812 - short name for the module tested
from vetgrad.conformance.judging.checker import Checker
from vetgrad.conformance.subject.adapters import load_adapter
from vetgrad.conformance.subject.execute import LocalEngine

from tests.engines.learners import variants as V  # noqa: N812 - the lecture engine's variants

pytestmark = pytest.mark.torch

# The lecture engine with its topological sort revisiting nodes (no visited set).
REVISIT = ("if v not in visited:", "if True:")


def _engine(name: str | None) -> type:
    if name != "revisit":
        return V.load(name)
    key = "_vetgrad_accumulation_revisit"
    if key not in sys.modules:
        source = V.lecture_source()
        assert source.count(REVISIT[0]) == 1
        module = sys.modules[key] = types.ModuleType(key)  # the adapter imports cls.__module__
        exec(compile(source.replace(*REVISIT), f"<{key}>", "exec"), module.__dict__)
    return sys.modules[key].Value  # type: ignore[no-any-return]


def _localise(name: str | None) -> tuple[list, str]:
    engine = LocalEngine(load_adapter(_engine(name)))
    forms = engine.forms()
    return A.localise(Checker(engine, "cpu", False), forms, list(forms))


# variant -> (op of the first finding, words its cause has, most nodes of its graph)
CASES = {
    "eq_add": ("add", "sets both operands' .grad instead of adding to them (= where += belongs)", 2),
    "eq_add_self": ("add", "sets the first operand's .grad (self) instead of adding to it (= where += belongs)", 3),
    "eq_add_other": ("add", "sets the second operand's .grad (other) instead of adding to it (= where += belongs)", 2),
    "eq_mul": ("mul", "sets both operands' .grad instead of adding to them (= where += belongs)", 2),
    "eq_mul_self": ("mul", "sets the first operand's .grad (self) instead of adding to it (= where += belongs)", 3),
    "eq_mul_other": ("mul", "sets the second operand's .grad (other) instead of adding to it (= where += belongs)", 2),
    "eq_pow": ("pow", "pow's backward sets the base's .grad instead of adding to it (= where += belongs)", 3),
    "eq_tanh": ("tanh", "tanh's backward sets the input's .grad instead of adding to it (= where += belongs)", 3),
    "eq_exp": ("exp", "exp's backward sets the input's .grad instead of adding to it (= where += belongs)", 3),
    "eq_relu": ("relu", "relu's backward sets the input's .grad instead of adding to it (= where += belongs)", 3),
    "topo_unreversed": ("graph", "backward() walks the graph in topological order, not reversed", 3),
    "revisit": ("graph", "the topological sort revisits nodes", 4),
}


@pytest.mark.parametrize(("name", "op", "words", "nodes"), [(k, *v) for k, v in CASES.items()])
def test_the_probes_name_the_op_and_the_cause(name: str, op: str, words: str, nodes: int) -> None:
    findings, _ = _localise(name)
    first = findings[0]
    assert (first.kind, first.op, first.level) == (A.KIND, op, "math")
    assert words in first.cause and len(first.graph.nodes) <= nodes
    assert " gives d" in first.message and ", torch " in first.message
    assert len(findings) == 1  # one bug, one finding (ops built from it named beside it)


def test_the_lecture_bug_in_words() -> None:
    (finding,), _ = _localise("eq_tanh")
    assert finding.message == "y = x.tanh() * x at x = 0.5 gives dy/dx = 0.393224, torch 0.855341"
    assert [n.op for n in finding.graph.nodes] == ["leaf", "tanh", "mul"]


def test_an_op_built_from_the_buggy_one_is_named_beside_it() -> None:
    (finding,), _ = _localise("eq_pow")  # the lecture's x / y is x * y**-1
    assert finding.op == "pow" and "div shows the same (the engine may build it from pow)" in finding.message
    engine = LocalEngine(load_adapter(V.load("eq_pow")))
    forms = engine.forms()
    (finding,), _ = A.localise(Checker(engine, "cpu", False), forms, list(forms),
                               composition=engine.composition(forms))  # as the engine builds them
    assert finding.op == "pow" and "div shows the same (the engine builds it from pow)" in finding.message


def test_an_order_bug_is_shown_by_a_chain() -> None:
    (finding,), _ = _localise("topo_unreversed")
    assert finding.message.startswith("y = x.tanh().exp() at x = 0.5 gives dy/dx = 0, torch")


@pytest.mark.parametrize("name", [None, "prev_tuple"])
def test_a_correct_engine_gets_no_finding(name: str | None) -> None:
    assert _localise(name)[0] == []  # the lecture's own engine: _prev a set; then a tuple


# One hypothesis replayed on one graph: x = 0.5, t = tanh(x); each case's leaf grad.
T = 0.46211715726000974
DT = 1 - T * T
MUL_TANH = Graph((Node("leaf", value=0.5), Node("tanh", (0,)), Node("mul", (1, 0))))
CHAIN = Graph((Node("leaf", value=0.5), Node("tanh", (0,)), Node("mul", (1, Const(3.0)))))


@pytest.mark.parametrize(("graph", "partials", "hyp", "grad"), [
    (MUL_TANH, [(), (DT,), (0.5, T)], A.Hypothesis("correct"), T + 0.5 * DT),
    (MUL_TANH, [(), (DT,), (0.5, T)], A.Hypothesis("eq", "tanh", 0), 0.5 * DT),  # mul's T lost
    (MUL_TANH, [(), (DT,), (0.5, T)], A.Hypothesis("eq", "mul", 1), T + 0.5 * DT),  # root: first
    (MUL_TANH, [(), (DT,), (0.5, T)], A.Hypothesis("upstream", "tanh"), T + DT),
    (CHAIN, [(), (DT,), (3.0, float("nan"))], A.Hypothesis("unreversed"), 0.0),
    (CHAIN, [(), (DT,), (3.0, float("nan"))], A.Hypothesis("correct"), 3.0 * DT),
])
def test_simulate(graph: Graph, partials: list, hyp: A.Hypothesis, grad: float) -> None:
    assert A.simulate(graph, partials, hyp)[0] == pytest.approx(grad, rel=1e-15)


@pytest.mark.slow
def test_the_campaign_reports_the_lecture_bug_first(tmp_path: Path) -> None:
    """The whole campaign: the localised finding first, its cause in the diagnoses instead of the
    end-to-end one, its 3-node reproducer exits 1, and the JSON report follows the schema."""
    jsonschema = pytest.importorskip("jsonschema", reason="the schema check needs jsonschema")
    from vetgrad.conformance.run.cli import main

    engine = V.write_variant("eq_tanh", tmp_path)
    path = tmp_path / "report.json"
    main(["--engine", f"{engine}:Value", "--graphs", "60", "--json", str(path), "--show", "0",
          "--no-shrink"])
    data = json.loads(path.read_text())
    schema = json.loads(resources.files("vetgrad.conformance").joinpath("report.schema.json").read_text())
    jsonschema.validate(data, schema)
    first = data["findings"][0]
    assert (first["kind"], first["op"], first["level"]) == ("accumulation", "tanh", "math")
    assert "(= where += belongs)" in first["cause"] and len(first["graph"]["nodes"]) == 3
    math = data["levels"]["math"]  # the diagnoses: the end-to-end graphs counted under the cause
    assert math["causes"][0]["cause"] == first["cause"] and "graph" not in math["failing_ops"]
    script = tmp_path / "repro.py"
    script.write_text(first["reproducer"])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    generic = [f for f in data["findings"] if f["cause"] == A.GENERIC]
    assert generic == []  # the one kept says whose consequence it is



def test_workers_merge_one_probe_finding() -> None:
    """Each worker of a campaign localises the same bug: the merged report says it once."""
    from vetgrad.conformance.judging.results import Finding, Report

    def report() -> Report:
        r = Report("e", 0, False, ["cpu"], ["tanh"])
        r.findings = [Finding(A.KIND, "tanh", 0, "y = x.tanh() * x ...", MUL_TANH, "cpu", cause="c"),
                      Finding("end-to-end", "graph", 1, "d(root)/d(node 1) ...", MUL_TANH, "cpu", index=7)]
        return r

    merged = report()
    merged.merge(report())
    assert [f.kind for f in merged.findings] == [A.KIND, "end-to-end", "end-to-end"]


@pytest.mark.slow
def test_each_reproducer_shows_it(tmp_path: Path) -> None:
    """Each localised finding's script, on its 2-3 node graph, exits 1 (the engine differs): all
    run in one interpreter (torch imported once), each as its own __main__."""
    from vetgrad.conformance.reporting.reproducer import reproducer, spellings_of
    from vetgrad.conformance.subject.address import EngineRef

    scripts = []
    for name in [*V.EQ_BUG, "topo_unreversed"]:
        path = V.write_variant(name, tmp_path)
        engine = LocalEngine(load_adapter(V.load(name)))
        forms = engine.forms()
        finding = A.localise(Checker(engine, "cpu", False), forms, list(forms))[0][0]
        assert len(finding.graph.nodes) <= 3, name
        ref = EngineRef("value", f"lecture_{name}:Value", file=str(path))  # as the CLI's path:Value
        script = tmp_path / f"repro_{name}.py"
        script.write_text(reproducer(finding, ref, spellings_of(engine, finding.graph)))
        scripts.append(str(script))
    runner = ("import runpy, sys\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n"
              "        runpy.run_path(path, run_name='__main__')\n"
              "        code = 0\n"
              "    except SystemExit as exc:\n"
              "        code = exc.code\n"
              "    print('EXIT', path, code)\n")
    done = subprocess.run([sys.executable, "-c", runner, *scripts], capture_output=True, text=True,
                          timeout=300)
    codes = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("EXIT ")]
    assert codes == [[script, "1"] for script in scripts], done.stdout + done.stderr
    assert done.stdout.count("<-- differs") >= len(scripts)


# The textbook engine's mutants (tests/engines/mutants.py): a wrong op, value or convention is the
# checker's finding, never an accumulation one; the accumulation mutants are named.
MUTANTS = {
    None: None, "rsub_swapped": None, "rtruediv_swapped": None, "sqrt_always_nan": None,
    "inject_grad_1e9": None, "inject_grad_1e6": None, "square_shortcut_sign": None,
    "mul_constant_backward_crashes": None, "abs_returns_float": None, "relu_grad_1_at_0": None,
    "add_assigns_grad": ("add", "(= where += belongs)"),
    "topo_reversed": ("graph", "not reversed"),
    "topo_no_visited_set": ("graph", "revisits nodes"),
}


@pytest.mark.parametrize(("name", "expected"), list(MUTANTS.items()))
def test_textbook_mutants(name: str | None, expected: tuple[str, str] | None) -> None:
    import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py

    engine = LocalEngine(load_adapter(M.load_textbook() if name is None else M.load_mutant(name)))
    forms = engine.forms()
    findings, _ = A.localise(Checker(engine, "cpu", False), forms, list(forms),
                             composition=engine.composition(forms))
    assert [(f.op, expected[1] in f.cause) for f in findings] == ([] if expected is None else [(expected[0], True)])
