"""Refused or crashed, by where the exception comes from (issue 21, item 1), and nothing checked is
never a pass (item 3), on learner-style engines (tests/engines/learners/): one line per case."""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
import types
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

from vetgrad.conformance.run.cli import main
from vetgrad.conformance.subject.adapters import NothingCheckedError, load_adapter
from vetgrad.conformance.subject.probe import operand_forms
from vetgrad.engine.ops import public_ops

from tests.engines.learners import variants as V  # noqa: N812 - as in the other tests

pytest_plugins = ["pytester"]

LEARNERS = Path(__file__).parent / "engines" / "learners"
_WRITTEN = Path(tempfile.mkdtemp(prefix="vetgrad-learners-"))  # the learners' engine files
atexit.register(shutil.rmtree, _WRITTEN, ignore_errors=True)
BASE = "refuses_value_exponent.py"  # the lecture's engine; x ** y refused by its own raise
RAISE = '            raise ValueError("only int/float exponents are supported")\n'
POW_IF = "        if isinstance(other, Value):\n" + RAISE
EXP = '        out = Value(math.exp(x), (self,), "exp")\n'
VALUE_POW = """        if isinstance(other, Value):
            if self.data < 0:
                raise ValueError("Base must be positive")
            out = Value(self.data ** other.data, (self, other), "**")

            def _backward():
                self.grad += other.data * self.data ** (other.data - 1) * out.grad
                other.grad += out.data * math.log(self.data) * out.grad
            out._backward = _backward
            return out
"""
LIBM = "import ctypes, ctypes.util\nlibm = ctypes.CDLL(ctypes.util.find_library('m'))\nlibm.exp.argtypes = [ctypes.c_double]\nlibm.exp.restype = ctypes.c_double\n"


def learner(file: str, *edits: tuple[str, str]) -> type:
    """``file``'s Value, with ``edits`` (each old text occurring once), as a module of its own that
    the harness's engine process can load too (its source in ``__vetgrad_source__``)."""
    stem = file.removesuffix(".py")
    source = V.learner_source(stem) if stem in V.LEARNERS else (LEARNERS / file).read_text()
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    name = f"_vetgrad_learner_probe_{abs(hash((file, edits)))}"
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__file__ = str(LEARNERS / file)
        module.__vetgrad_source__ = source
        sys.modules[name] = module
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return sys.modules[name].Value


def decisions(cls: type) -> dict[tuple[str, str], tuple[str, str]]:
    """(op, form) -> (decision, why) of the spelling the probe kept (else the first tried)."""
    adapter = load_adapter(cls)
    adapter.forms()
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for d in adapter.probe_log:
        if (d.op, d.form) not in out or (d.decision == "supported" != out[(d.op, d.form)][0]):
            out[(d.op, d.form)] = (d.decision, d.why)
    return out


# (engine file, edits, op, form, decision, what the why says, in order)
MUTE = """
class Mute(Exception):
    def __str__(self):
        raise ValueError("no words")


def mute():
    raise Mute()
"""

CASES = [
    pytest.param("exp_math_self.py", (), "exp", "n", "supported",
                 ["kept: it crashes (TypeError: must be real number, not Value at exp_math_self.py:",
                  "math.exp(self)"], id="exp as math.exp(self): a crash"),
    pytest.param("pow_other_data.py", (), "pow", "nc", "supported",
                 ["kept: it crashes (AttributeError: 'float' object has no attribute 'data' at "
                  "pow_other_data.py:", "self.data**other.data"], id="other.data on a float: a crash"),
    pytest.param(BASE, (), "pow", "nn", "unsupported",
                 ["refused: ValueError: only int/float exponents are supported (refuses_value_exponent.py:",
                  'raise ValueError("only int/float exponents are supported")'],
                 id="its own raise for a Value exponent: refused"),
    pytest.param(BASE, (), "pow", "nc", "supported", ["ok"], id="a number exponent: offered"),
    pytest.param(BASE, (), "pow", "cn", "unsupported", ["no __rpow__"], id="no __rpow__: not offered"),
    pytest.param(BASE, ((POW_IF, '        assert isinstance(other, (int, float)), "numbers only"\n'),),
                 "pow", "nn", "unsupported", ["refused: AssertionError: numbers only (", "assert "],
                 id="an assert (micrograd's): refused"),
    pytest.param("pow_numbers_only.py", (), "pow", "nn", "unsupported",
                 ["not offered: Python refuses a node operand here (TypeError: unsupported operand "
                  "type(s) for ** or pow(): 'float' and 'Value' at pow_numbers_only.py:",
                  "while form nc works"], id="** on numbers only, no assert: not offered"),
    pytest.param(BASE, ((POW_IF, VALUE_POW),),
                 "pow", "nn", "supported",
                 ["ok (fails at (-1.5, 1.3): ValueError: Base must be positive", "a domain restriction"],
                 id="a raise for a negative base only: a domain restriction, offered"),
    pytest.param(BASE, ((RAISE, '            raise ValueError(f"no Value exponents ({other.data})")\n'),),
                 "pow", "nn", "unsupported", ["refused: ValueError: no Value exponents (1.3)"],
                 id="the same raise, its message quoting the input: refused"),
    pytest.param(BASE, (("    def tanh(self):", "    def tanh(self, k):"),), "tanh", "n", "supported",
                 ["kept: it crashes (TypeError: Value.tanh() missing 1 required positional argument"],
                 id="a method needing an argument the call does not give: a crash"),
    pytest.param(BASE, (("        return self + (-other)", "        return self - other"),), "sub", "nn",
                 "supported", ["kept: it crashes (RecursionError: maximum recursion depth exceeded"],
                 id="a self-recursive __sub__: a crash"),
    pytest.param(BASE, ((EXP, EXP.replace("math.exp(x)", "math.exp(x) / (x - x)")),), "exp", "n",
                 "supported", ["kept: it crashes (ZeroDivisionError: float division by zero at"],
                 id="a division by zero on ordinary inputs: a crash"),
    pytest.param(BASE, (("        return other + (-self)", "        return NotImplemented"),), "sub", "cn",
                 "unsupported", ["not offered: TypeError: unsupported operand type(s) for -: 'float' "
                                 "and 'Value' (Python's operator dispatch"],
                 id="NotImplemented: not offered"),
    pytest.param(BASE, ((EXP, '        raise NotImplementedError("exp is not written yet")\n'),),
                 "exp", "n", "unsupported", ["refused: NotImplementedError: exp is not written yet ("],
                 id="raise NotImplementedError: refused"),
    pytest.param(BASE, (("import math\n", "import math\n" + LIBM), (EXP, EXP.replace("math.exp(x)", "libm.exp(self)"))),
                 "exp", "n", "unsupported",
                 ["refused: ArgumentError: argument 1: TypeError: wrong type (a C function's argument types: "],
                 id="a ctypes function given a Value: refused (its declared argument types)"),
    pytest.param(BASE, (("            self.grad += out.data * out.grad\n",
                         '            raise NotImplementedError("no exp backward yet")\n'),),
                 "exp", "n", "unsupported", ["refused in backward(): NotImplementedError: no exp backward yet"],
                 id="a raise in backward(): refused"),
    pytest.param(BASE, (("            self.grad += out.data * out.grad\n",
                         "            self.grad += out.data * out.grad.data\n"),),
                 "exp", "n", "supported", ["kept: its backward() crashes (AttributeError"],
                 id="a crash in backward(): kept"),
    pytest.param(BASE, (("import math\n", "import math\n" + MUTE), (EXP, EXP.replace("math.exp(x)", "mute()"))),
                 "exp", "n", "unsupported", ["refused: Mute: <str() of this Mute raised ValueError>"],
                 id="an exception whose str() raises: said as such (here by a raise: refused)"),
]


@pytest.mark.parametrize(("file", "edits", "op", "form", "decision", "says"), CASES)
def test_the_probe_decides_by_where_the_exception_comes_from(
        file: str, edits: tuple, op: str, form: str, decision: str, says: list[str]) -> None:
    got, why = decisions(learner(file, *edits))[(op, form)]
    assert got == decision, why
    at = 0
    for piece in says:
        assert piece in why[at:], f"{piece!r} not in {why!r}"
        at = why.index(piece, at) + len(piece)


@pytest.mark.parametrize("engine", ["vetgrad.engine:Value", "textbook", "lecture.py"])
def test_correct_engines_offer_every_form_they_have(engine: str) -> None:
    import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py

    cls = M.load_textbook() if engine == "textbook" else learner("lecture.py") \
        if engine == "lecture.py" else engine
    adapter = load_adapter(cls)
    forms = adapter.forms()
    if engine != "lecture.py":
        assert forms == {op.name: operand_forms(op) for op in public_ops()}
        assert all(d.why in ("ok", "no abs") for d in adapter.probe_log), \
            [d for d in adapter.probe_log if d.why not in ("ok", "no abs")]
    else:  # the lecture's own engine: ** takes numbers only (its assert), nothing crashes
        assert forms["pow"] == ("nc",) and forms["tanh"] == ("n",) and forms["exp"] == ("n",)
        assert not [d for d in adapter.probe_log if "crashes" in d.why]


def test_micrograd_pow_is_refused_by_its_assert_and_lacks_rpow() -> None:
    pytest.importorskip("micrograd")
    seen = decisions(load_adapter("micrograd.engine:Value").cls)
    assert seen[("pow", "nn")][1].startswith("refused: AssertionError: only supporting int/float powers")
    assert "engine.py:" in seen[("pow", "nn")][1]
    assert seen[("pow", "cn")] == ("unsupported", "no __rpow__")
    assert seen[("tanh", "n")] == ("unsupported", "no tanh")


def test_a_constructor_that_needs_a_label_offers_nothing() -> None:
    adapter = load_adapter(learner("label_required.py"))
    assert adapter.forms() == {}
    (leaf,) = adapter.probe_log
    assert leaf.op == "leaf" and leaf.why.startswith(
        "Value(0.7) raised TypeError: Value.__init__() missing 1 required positional argument: 'label'")
    assert "the harness makes every leaf as Value(x)" in leaf.why


def _file(name: str) -> str:
    """``PATH:Value`` of a learner's engine file, written to a folder of this test session."""
    stem = name.removesuffix(".py")
    path = V.write_learner(stem, _WRITTEN) if stem in V.LEARNERS else LEARNERS / name
    return f"{path}:Value"


# (argv, exit status, what stderr (2) or stdout (0, 1) says)
CLI = [
    pytest.param([_file("label_required.py")], 2,
                 "Value(0.7) raised TypeError: Value.__init__() missing 1 required positional "
                 "argument: 'label'", id="constructor needs a label"),
    pytest.param([_file(BASE), "--ops", "sin,cos"], 2,
                 "--ops sin,cos: the engine offers neither (sin: no sin; cos: no cos); it offers add,",
                 id="--ops the engine lacks"),
    pytest.param([_file(BASE), "--ops", "sin,tanh"], 2, "--ops sin,tanh: the engine does not offer sin",
                 id="--ops one of which the engine lacks"),
    pytest.param([_file(BASE), "--ops", "pow", "--show-probe"], 0,
                 "refused: ValueError: only int/float exponents are supported "
                 '(refuses_value_exponent.py:50: raise ValueError("only int/float exponents are supported"))',
                 id="--show-probe quotes the engine's raise"),
    pytest.param([_file("exp_math_self.py"), "--show-probe"], 0,
                 "kept: it crashes (TypeError: must be real number, not Value at exp_math_self.py:86: "
                 'out = Value(math.exp(self), (self,), "exp"))', id="--show-probe quotes the crash"),
    pytest.param([_file("label_required.py"), "--show-probe"], 2, "Value(0.7) raised TypeError",
                 id="--show-probe of a constructor that needs a label"),
]


@pytest.mark.parametrize(("argv", "status", "says"), CLI)
def test_command_line(argv: list[str], status: int, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--engine", *argv, "--graphs", "20", "--max-nodes", "6", "--device", "cpu", "--no-shrink"])
    out, err = capsys.readouterr()
    assert code == status, out + err
    assert says in (err if status == 2 and "--show-probe" not in argv else out), out + err
    if status == 2:
        assert "passed" not in out


@pytest.mark.slow
def test_a_crashing_exp_is_a_math_finding_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--engine", _file("exp_math_self.py"), "--graphs", "30", "--max-nodes", "6",
                 "--device", "cpu", "--no-shrink", "--ops", "exp,add,mul"])
    out = capsys.readouterr().out
    assert code == 1, out
    first = next(line for line in out.splitlines() if line.startswith("- ["))
    assert first.startswith("- [math]") and " in exp (node " in first and \
        "TypeError: must be real number, not Value" in first, first
    assert "unsupported (not tested)" not in out


@pytest.mark.slow
def test_the_report_says_how_many_ops_and_forms_were_tested(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    main(["--engine", _file(BASE), "--ops", "add,pow", "--graphs", "20", "--max-nodes", "6",
          "--device", "cpu", "--no-shrink", "--json", str(path)])
    out = capsys.readouterr().out
    assert "tested: 2 ops in 4 operand forms (of 2 ops asked)" in out, out
    data = json.loads(path.read_text())
    assert data["tested"] == {"ops": 2, "forms": 4, "forms_by_op": {"add": ["nn", "nc", "cn"], "pow": ["nc"]}}


def test_the_api_raises_rather_than_pass_nothing() -> None:
    from vetgrad.conformance import check_engine

    with pytest.raises(NothingCheckedError, match=r"Value\(0.7\) raised TypeError"):
        check_engine(_file("label_required.py"), graphs=5)
    with pytest.raises(NothingCheckedError, match="--ops sin: the engine does not offer sin"):
        check_engine(_file(BASE), graphs=5, ops=["sin"])


def _plugin_args(pytestconfig: pytest.Config) -> list[str]:
    return [] if pytestconfig.pluginmanager.has_plugin("vetgrad") else ["-p", "vetgrad.conformance.pytest_plugin"]


@pytest.mark.parametrize(("engine", "ops", "says"), [
    ("label_required.py", None, "*Value(0.7) raised TypeError*'label'*"),
    (BASE, "sin,cos", "*--vetgrad-ops sin,cos: the engine offers neither*"),
])
def test_plugin_nothing_to_check_is_one_usage_error(pytester: pytest.Pytester, pytestconfig: pytest.Config,
                                                    engine: str, ops: str | None, says: str) -> None:
    args = [*_plugin_args(pytestconfig), "--vetgrad-engine", _file(engine), "--vetgrad-graphs", "10"]
    result = pytester.runpytest(*args, *(["--vetgrad-ops", ops] if ops else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([says])
    assert result.stderr.str().count("ERROR:") == 1


@pytest.mark.slow
def test_plugin_fails_a_crashing_op_and_skips_a_refused_one(pytester: pytest.Pytester,
                                                            pytestconfig: pytest.Config) -> None:
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", _file("exp_math_self.py"),
                                "--vetgrad-graphs", "20", "--vetgrad-ops", "exp,add", "-rs")
    result.assert_outcomes(passed=3, failed=1)  # add, graph, backward x2; exp fails
    result.stdout.fnmatch_lines(["*crash in exp (*level math): engine raised TypeError: must be real number*"])
    result = pytester.runpytest(*_plugin_args(pytestconfig), "--vetgrad-engine", _file(BASE),
                                "--vetgrad-graphs", "10", "-rs")
    result.stdout.fnmatch_lines(["*SKIPPED*the engine does not offer sin (no sin)*"])
