"""Reproducers run as printed (a Value class by its operators, an Adapter through leaf/apply), mark
the numbers that differ from torch and exit 1 while any does, 0 once the engine agrees."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from vetgrad import conformance
from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.reporting.reproducer import reproducer
from vetgrad.conformance.subject.address import EngineRef

from tests.engines import mutants as M  # noqa: N812

ROOT = Path(__file__).resolve().parent.parent
GRAPH = Graph((Node("leaf", value=0.5), Node("tanh", (0,)), Node("mul", (1, Const(2)))))

ADAPTERS = textwrap.dedent("""
    from vetgrad.conformance.subject.adapters import Adapter
    from vetgrad.engine import Value


    class MyAdapter(Adapter):
        name = "mine"

        def leaf(self, x):
            return Value(x)

        def apply(self, op, args, params):
            out = op.call(*args, *params)
            return out * 1.5 if self.buggy and op.name == "tanh" else out

        def value(self, node):
            return node.data

        def grad(self, node):
            return node.grad

        def backward(self, root):
            root.backward()

        buggy = False


    class BuggyAdapter(MyAdapter):
        buggy = True
""")


def run_script(text: str, cwd: Path) -> subprocess.CompletedProcess:
    script = cwd / "repro.py"
    script.write_text(text)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


@pytest.mark.slow
def test_a_mutants_reproducer_exits_1_and_marks_the_grad_and_ours_exits_0(tmp_path: Path) -> None:
    finding = conformance.check_graph(M.spec("tanh_grad_1_minus_t"), GRAPH)
    assert finding is not None
    module = sys.modules[M.spec("tanh_grad_1_minus_t").partition(":")[0]]
    (tmp_path / "mutant_engine.py").write_text(module.__vetgrad_source__)
    bad = run_script(reproducer(finding, "mutant_engine:Value"), tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    marked = [line for line in bad.stdout.splitlines() if "<-- differs" in line]
    assert marked and all(line.strip().startswith("grad of") for line in marked)
    assert any("grad of x0" in line for line in marked)
    good = run_script(reproducer(finding, "vetgrad.engine:Value"), tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "<-- differs" not in good.stdout


@pytest.mark.slow
def test_a_module_made_from_source_is_imported_from_a_file_the_comment_asks_for(tmp_path: Path) -> None:
    spec = M.spec("tanh_grad_1_minus_t")
    finding = conformance.check_graph(spec, GRAPH)
    assert finding is not None
    text = finding.reproducer
    module = spec.partition(":")[0]
    assert f"made from source text in the harness: save that source as {module}.py" in text
    assert f"from {module} import Value as V" in text
    assert "x2 = x1 * 2\n" in text  # an int constant stays an int
    (tmp_path / f"{module}.py").write_text(sys.modules[module].__vetgrad_source__)
    assert run_script(text, tmp_path).returncode == 1


@pytest.mark.slow
def test_an_adapters_reproducer_builds_through_the_adapter(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_adapters.py").write_text(ADAPTERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    finding = conformance.check_graph("my_adapters:BuggyAdapter", GRAPH)
    assert finding is not None
    text = finding.reproducer
    assert "from my_adapters import BuggyAdapter\nA = BuggyAdapter()" in text
    assert "x0 = A.leaf(0.5)" in text and "x1 = A.apply(OPS['tanh'], [x0], ())" in text
    assert "V(" not in text
    bad = run_script(text, tmp_path)
    assert bad.returncode == 1 and "value of x1" in bad.stdout, bad.stdout + bad.stderr
    ref = EngineRef("adapter", "my_adapters:MyAdapter")
    good = run_script(reproducer(finding, ref), tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.mark.slow
def test_a_campaigns_adapter_reproducer_names_the_adapter(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_adapters.py").write_text(ADAPTERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    report = conformance.run_campaign("my_adapters:BuggyAdapter", graphs=10, seed=0, ops=["tanh"])
    assert report.findings
    text = report.findings[0].reproducer
    assert "A = BuggyAdapter()" in text and "A.leaf(" in text
    assert run_script(text, tmp_path).returncode == 1


@pytest.mark.parametrize("kind", ["value", "adapter"])
@pytest.mark.slow
def test_an_engine_that_raises_exits_1(tmp_path: Path, kind: str) -> None:
    finding = conformance.check_graph(M.spec("tanh_grad_1_minus_t"), GRAPH)
    assert finding is not None
    (tmp_path / "broken.py").write_text("class Value:\n    def __init__(self, x):\n        raise ValueError(x)\n"
                                        "class Broken(Value):\n    def __init__(self):\n        pass\n"
                                        "    def leaf(self, x):\n        raise ValueError(x)\n")
    target = "broken:Value" if kind == "value" else "broken:Broken"
    done = run_script(reproducer(finding, EngineRef(kind, target)), tmp_path)
    assert done.returncode == 1 and "engine raised while building" in done.stdout


def _numbers(graph: Graph) -> list[float]:
    return [n.value for n in graph.nodes if n.op == "leaf"] + [
        a.value for n in graph.nodes for a in n.args if isinstance(a, Const)]


def test_simpler_numbers_come_simplest_first_and_keep_their_type() -> None:
    from vetgrad.conformance.dags.shrink_numbers import simpler

    assert simpler(-1.1511812544651348)[:4] == [0.0, -1.0, 1.0, -2.0]
    assert simpler(-1.1511812544651348)[-2:] == [-1.2, -1.15]
    assert simpler(3) == [0, 1, 2]
    assert simpler(0.0) == [] and simpler(float("inf")) == [] and simpler(float("nan")) == []
    assert simpler(1.0) == [0.0]


def test_shrink_numbers_keeps_only_changes_that_still_fail() -> None:
    from vetgrad.conformance.dags.shrink_numbers import shrink_numbers

    graph = Graph((Node("leaf", value=-1.1511812544651348), Node("leaf", value=0.123456789),
                   Node("add", (0, Const(2.7182818))), Node("mul", (2, 1))))
    # fails while leaf 0 is negative and leaf 1 is between 0.1 and 0.5
    out = shrink_numbers(graph, lambda g: g.nodes[0].value < 0 and 0.1 < g.nodes[1].value < 0.5)
    assert _numbers(out) == [-1.0, 0.12, 0.0]
    calls = []
    shrink_numbers(graph, lambda g: calls.append(g) or False, max_checks=5)
    assert len(calls) == 5


def test_a_finding_full_of_long_numbers_shrinks_to_short_ones() -> None:
    from vetgrad.conformance.judging.checker import Checker
    from vetgrad.conformance.run.confirm import shrink_finding
    from vetgrad.conformance.subject.adapters import load_adapter

    graph = Graph((Node("leaf", value=-1.1511812544651348), Node("leaf", value=0.7365243519341519),
                   Node("add", (0, 1)), Node("tanh", (2,)), Node("mul", (3, Const(2.718281828459045))),
                   Node("add", (4, 1))))
    checker = Checker(load_adapter(M.spec("tanh_grad_1_minus_t")), "cpu", strict=False)
    (result,) = checker.check([graph], [0])
    finding = result.like("local-grad", "tanh", result.finding.level)
    assert finding is not None
    shrink_finding(finding, checker)
    numbers = _numbers(finding.graph)
    assert numbers and all(len(repr(x)) <= 5 for x in numbers), finding.graph
    assert "tanh" in finding.graph.ops() and finding.kind == "local-grad"
    assert checker.check([finding.graph], [0])[0].like("local-grad", "tanh", finding.level) is not None


@pytest.mark.slow
def test_a_campaigns_finding_has_short_numbers() -> None:
    report = conformance.run_campaign(M.spec("tanh_grad_1_minus_t"), graphs=40, seed=0, ops=["tanh", "add"])
    finding = next(f for f in report.findings if f.op == "tanh")
    numbers = _numbers(finding.graph)
    assert numbers and all(len(repr(x)) <= 5 for x in numbers), finding.graph
    assert "x0 = V(" in finding.reproducer


def test_an_engine_no_import_finds_is_said_in_a_comment() -> None:
    finding = conformance.check_graph(M.spec("tanh_grad_1_minus_t"), GRAPH)
    assert finding is not None
    for target in ("__main__:Value", "tests.x:f.<locals>.MyAdapter"):
        text = reproducer(finding, EngineRef("adapter", target))
        assert "no import finds it" in text and "import MyAdapter" not in text and "from __main__" not in text


def _textbook_variant(key: str, *edits: tuple[str, str]) -> str:
    """The textbook engine's source with ``edits`` (each old text once), registered as module
    ``key`` (the harness's engine process gets it as source text): its ``module:Value``."""
    M.variant(key, *edits)
    return key + ":Value"


METHOD_ABS = ("    def __abs__(self):\n", "    def abs(self):\n")  # x.abs() only, no abs(x)
ABS_GRAD_DOUBLED = ("out.grad * sign(self.data)", "out.grad * 2 * sign(self.data)")
PLUS_ZERO_START = ("            v.grad = -0.0\n", "            v.grad = 0.0\n")  # -0.0 lost


def _save(spec: str, folder: Path, name: str) -> str:
    """The source of a registered variant saved as ``name``.py in ``folder``: its module:Value."""
    (folder / f"{name}.py").write_text(sys.modules[spec.partition(":")[0]].__vetgrad_source__)
    return f"{name}:Value"


@pytest.mark.slow
def test_a_method_only_engines_reproducer_writes_the_method_it_was_probed_with(tmp_path: Path) -> None:
    buggy = _textbook_variant("_vetgrad_repro_method_abs_bug", METHOD_ABS, ABS_GRAD_DOUBLED)
    good = _textbook_variant("_vetgrad_repro_method_abs", METHOD_ABS)
    report = conformance.run_campaign(buggy, graphs=10, seed=0, ops=["abs", "add"])
    finding = next(f for f in report.findings if f.op == "abs")
    assert ".abs()" in finding.reproducer and "abs(x" not in finding.reproducer
    spellings = {("abs", "n"): "method"}
    bad = run_script(reproducer(finding, _save(buggy, tmp_path, "bug_abs"), spellings), tmp_path)
    assert bad.returncode == 1 and "<-- differs" in bad.stdout, bad.stdout + bad.stderr
    ok = run_script(reproducer(finding, _save(good, tmp_path, "good_abs"), spellings), tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr  # abs(x) would raise TypeError: exit 1


def test_check_graph_reproducer_uses_the_method_too() -> None:
    spec = _textbook_variant("_vetgrad_repro_method_abs_bug", METHOD_ABS, ABS_GRAD_DOUBLED)
    graph = Graph((Node("leaf", value=-1.5), Node("abs", (0,))))
    finding = conformance.check_graph(spec, graph)
    assert finding is not None and "x1 = x0.abs()" in finding.reproducer


LEARNER_ENGINE = 'print("the learner\'s engine.py")\n'
LEARNER_ADAPTER = textwrap.dedent("""
    from vetgrad.conformance.subject.adapters import Adapter
    from engine import Value  # the learner's engine.py beside it, not vetgrad's engine package


    class Mine(Adapter):
        name = "mine"
        scale = 1.0

        def leaf(self, x):
            return Value(x)

        def apply(self, op, args, params):
            out = op.call(*args, *params)
            return out * self.scale if op.name == "tanh" else out

        def value(self, node):
            return node.data

        def grad(self, node):
            return node.grad

        def backward(self, root):
            root.backward()


    class Buggy(Mine):
        scale = 1.5
""")


@pytest.mark.slow
def test_an_adapters_reproducer_runs_beside_a_learners_engine_py(tmp_path: Path) -> None:
    """A file named engine.py beside the script shadows `import engine`: the reproducer still
    gets vetgrad's op table, and the adapter still gets the learner's engine."""
    finding = conformance.check_graph(M.spec("tanh_grad_1_minus_t"), GRAPH)
    assert finding is not None
    (tmp_path / "engine.py").write_text(M.textbook_source() + LEARNER_ENGINE)
    (tmp_path / "learner_adapter.py").write_text(LEARNER_ADAPTER)
    bad = run_script(reproducer(finding, EngineRef("adapter", "learner_adapter:Buggy")), tmp_path)
    assert bad.returncode == 1 and "value of x1" in bad.stdout, bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr and "the learner's engine.py" in bad.stdout
    good = run_script(reproducer(finding, EngineRef("adapter", "learner_adapter:Mine")), tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "the learner's engine.py" in good.stdout


# d(y * x)/dx at y = -0.0 is -0.0 in torch (it assigns the first contribution); an engine whose
# grads start at +0.0 gives +0.0 (a graph a campaign of that engine found)
SIGNED_ZERO_GRAPH = Graph((Node("leaf", value=-0.0), Node("leaf", value=-math.inf), Node("mul", (1, 0))))


@pytest.mark.slow
def test_a_signed_zero_findings_reproducer_exits_1_on_the_mutant_and_0_on_ours(tmp_path: Path) -> None:
    spec = _textbook_variant("_vetgrad_repro_plus_zero", PLUS_ZERO_START)
    finding = conformance.check_graph(spec, SIGNED_ZERO_GRAPH)
    assert finding is not None and finding.level == "torch", finding
    assert "the sign of a zero" in finding.message or "sign of a zero" in finding.cause
    text = reproducer(finding, _save(spec, tmp_path, "plus_zero"))
    assert "SIGNED_ZEROS = True" in text
    bad = run_script(text, tmp_path)
    assert bad.returncode == 1 and "grad of x1: engine 0.0, torch -0.0  <-- differs" in bad.stdout, \
        bad.stdout + bad.stderr
    good = run_script(reproducer(finding, "vetgrad.engine:Value"), tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.mark.slow
def test_below_level_torch_the_sign_of_a_zero_does_not_count(tmp_path: Path) -> None:
    from dataclasses import replace

    spec = _textbook_variant("_vetgrad_repro_plus_zero", PLUS_ZERO_START)
    finding = conformance.check_graph(spec, SIGNED_ZERO_GRAPH)
    assert finding is not None
    text = reproducer(replace(finding, level="math"), _save(spec, tmp_path, "plus_zero"))
    assert "SIGNED_ZEROS = False" in text
    assert run_script(text, tmp_path).returncode == 0
