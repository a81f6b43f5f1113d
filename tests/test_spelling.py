"""No adapter for the spellings learners use (issue 22, item 7): a micrograd-style class whose
number is ``val`` or ``value``, whose children are ``children`` or ``_children``, whose op label is
``op`` or ``_operation`` and whose backward pass is ``back_prop()`` or ``backprop()`` is read with
its own names (conformance.subject.adapters.detect_spelling), said once in the report and the probe, and
written so in its reproducers; an ambiguous class is refused, naming both attributes."""

from __future__ import annotations

import json
import sys
import types
from importlib import resources
from pathlib import Path

import pytest
from vetgrad.conformance.subject.adapters import (
    MICROGRAD,
    EngineLoadError,
    NodeSpelling,
    NothingCheckedError,
    detect_spelling,
    load_adapter,
)

from tests.engines.learners import variants as V  # noqa: N812 - as in the other tests

# A micrograd-style engine (add, mul, tanh) with each part's name a parameter of the template.
TEMPLATE = '''
import math


class Value:
    def __init__(self, {value}{init_extra}, {children}=(), {label}="", grad=0):
        self.{value} = {value}
        self.{children_attr} = {container}({children})
        self.{label_attr} = {label}
        self.grad = grad
        self._backward = lambda: None{body_extra}

    def _make(self, x, kids, label):
        return Value(x, kids, label)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = self._make(self.{value} + other.{value}, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = self._make(self.{value} * other.{value}, (self, other), "*")

        def _backward():
            self.grad += other.{value} * out.grad
            other.grad += self.{value} * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.{value})
        out = self._make(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def {backward}(self):
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((c, False) for c in {walk})
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
{class_extra}'''


def engine(value: str = "data", children: str | None = "_prev", container: str = "set",
           label: str | None = "_op", backward: str = "backward", body_extra: str = "",
           class_extra: str = "", init_extra: str = "") -> type:
    """The template's Value with these names (children/label None: the node has no such
    attribute), registered as a module of its own that the engine's process can load too."""
    source = TEMPLATE.format(
        value=value, children="kids", label="lbl", init_extra=init_extra,
        children_attr=children or "_kids_hidden", container=container,
        label_attr=label or "_lbl_hidden", body_extra=body_extra, class_extra=class_extra,
        backward=backward, walk=f"v.{children or '_kids_hidden'}")
    name = f"_vetgrad_spelling_{abs(hash(source))}"
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__vetgrad_source__ = source
        module.__file__ = f"{name}.py"
        sys.modules[name] = module
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return sys.modules[name].Value  # type: ignore[no-any-return]


# One line per spelling combination: the names in the class -> what is detected, and said.
SPELLED = [
    # value,  children,    container, label,        backward,     said
    ("data", "_prev", "set", "_op", "backward", ""),
    ("data", "_prev", "tuple", "_op", "backward", ""),
    ("val", "children", "list", "op", "back_prop",
     "value .val, children .children, op label .op, backward .back_prop()"),
    ("value", "_children", "tuple", "_operation", "backprop",
     "value .value, children ._children, op label ._operation, backward .backprop()"),
    ("val", "_prev", "set", "_op", "backward", "value .val"),
    ("data", "children", "list", "_op", "backward", "children .children"),
    ("data", "_prev", "set", "op", "backward", "op label .op"),
    ("data", "_prev", "set", "_op", "back_prop", "backward .back_prop()"),
    ("data", "_prev", "set", "_op", "backprop", "backward .backprop()"),
    ("val", "children", "list", None, "back_prop", "value .val, children .children, backward .back_prop()"),
    ("data", None, "set", None, "backward", ""),  # no children, no label: not spellings, not said
]


@pytest.mark.parametrize(("value", "children", "container", "label", "backward", "said"), SPELLED)
def test_each_spelling_is_detected_and_said(value, children, container, label, backward, said) -> None:
    cls = engine(value, children, container, label, backward)
    spelled = detect_spelling(cls)
    assert spelled == NodeSpelling(value, children, label, backward)
    assert spelled.said() == said
    adapter = load_adapter(cls)
    x, y = adapter.leaf(0.5), adapter.leaf(-1.5)
    z = adapter.apply(__import__("vetgrad.engine.ops", fromlist=["OPS"]).OPS["mul"], [x, y], ())
    adapter.backward(z)
    assert (adapter.value(z), adapter.grad(x), adapter.grad(y)) == (-0.75, -1.5, 0.5)
    assert [n.value for n in adapter.derivative_graph(z)][:1] == ([-0.75] if children else [])


# Where a later name holds what the first one should: refused, naming both; and the other refusals.
REFUSED = [
    # (engine's keyword arguments, what the refusal says)
    ({"value": "val", "body_extra": "\n        self.data = None"},
     ".data (read first) is None (NoneType), not the number given (a real number), but .val is"),
    ({"value": "val", "body_extra": "\n        self.data = 0.0"},
     ".data (read first) is 0.0 (float), not the number given"),
    ({"value": "val", "body_extra": "\n        self.data = [val]"}, ".data (read first) is [0.5] (list)"),
    ({"children": "children", "container": "list", "body_extra": "\n        self._prev = 2"},
     "which attribute holds the children is ambiguous: ._prev (read first) is 2 (int)"),
    ({"label": "op", "body_extra": "\n        self._op = len"},
     "which attribute holds the op's label is ambiguous: ._op (read first)"),
    ({"backward": "back_prop", "class_extra": "    backward = None\n"},
     "which attribute holds the backward pass is ambiguous: .backward (read first) is None"),
    ({"backward": "walk"}, "does not look like a Value class (no backward(), back_prop() or backprop())"),
    ({"value": "number"}, "has no attribute for its number: none of .data, .val, .value"),
]


@pytest.mark.parametrize(("kwargs", "said"), REFUSED)
def test_an_ambiguous_or_unreadable_class_is_refused_clearly(kwargs: dict, said: str) -> None:
    with pytest.raises(EngineLoadError) as refused:
        load_adapter(engine(**kwargs))
    assert said in str(refused.value)


@pytest.mark.parametrize(("kwargs", "spelled"), [
    # the first name holds the part: a later one is never looked at
    ({"body_extra": "\n        self.val = 'not read'"}, MICROGRAD),
    ({"value": "val", "body_extra": "\n        self.value = None"}, NodeSpelling(value="val")),
    ({"class_extra": "    back_prop = None\n"}, MICROGRAD),
    # children and label a class lacks are left out (nothing composes), not refused
    ({"children": None, "label": None}, NodeSpelling(children=None, label=None)),
])
def test_the_first_name_that_holds_a_part_wins(kwargs: dict, spelled: NodeSpelling) -> None:
    assert detect_spelling(engine(**kwargs)) == spelled


def test_a_constructor_needing_two_arguments_is_still_refused_with_its_message() -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    cls = engine("val", "children", "list", "op", "back_prop", init_extra=", name")
    assert detect_spelling(cls) == NodeSpelling(backward="back_prop")  # (no node: micrograd's names)
    with pytest.raises(NothingCheckedError) as refused:
        run_campaign(f"{cls.__module__}:Value", graphs=5, max_nodes=4)
    assert "Value(0.7) raised TypeError" in str(refused.value)
    assert "missing 1 required positional argument: 'name'" in str(refused.value)


def test_the_notebook_constructor_takes_one_argument() -> None:
    cls = sys.modules[V.notebook_spec().partition(":")[0]].Value
    assert detect_spelling(cls) == NodeSpelling("val", "children", "op", "back_prop")
    assert cls(0.5).grad == 0 and cls(0.5).children == [] and cls(0.5).op is None


def test_a_forged_spelling_from_the_engines_process_is_micrograds() -> None:
    forged = {"value": "data); import os #", "children": 3, "op_label": "_op", "backward": "back_prop"}
    assert NodeSpelling.from_json(forged) == NodeSpelling(children="_prev", backward="back_prop")
    assert NodeSpelling.from_json(None) == MICROGRAD


# ---- the notebook engine through the harness (its own process) --------------------------------

torch = pytest.importorskip("torch", reason="the harness compares against PyTorch")


@pytest.mark.torch
@pytest.mark.slow
def test_the_notebook_engine_passes_math_and_its_composition_matches_the_lectures() -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    report = run_campaign(V.notebook_spec(), graphs=150, max_nodes=10, level="math", max_findings=3)
    assert report.failed == 0 and not [f for f in report.findings if f.level == "math"]
    assert report.spelled == NodeSpelling("val", "children", "op", "back_prop").to_json()
    lecture = run_campaign(V.spec(), graphs=5, max_nodes=4, level="math", edges=False)
    assert report.composition == lecture.composition and report.composition  # read from .children/.op
    assert lecture.spelled == MICROGRAD.to_json()


@pytest.mark.torch
@pytest.mark.parametrize("variant", sorted(V.NOTEBOOK_VARIANTS))
@pytest.mark.slow
def test_a_notebook_bug_is_named_as_the_lectures_is(variant: str) -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    report = run_campaign(V.notebook_spec(variant), graphs=150, max_nodes=10, level="math",
                          max_findings=3)
    first = report.findings[0]
    assert (first.level, first.op) == ("math", V.NOTEBOOK_BUGGY_OP[variant]), first.message
    if variant.startswith("eq_"):
        assert "instead of adding to" in first.cause, first.cause
    # its reproducer reads the engine with its own names, and runs (the harness ran it: no
    # "did not show" note), differing from torch
    assert "(lambda x: x.val), (lambda x: x.grad), (lambda x: x.back_prop())" in first.reproducer
    assert ".data" not in first.reproducer.split("def build_torch")[0]


@pytest.mark.torch
@pytest.mark.parametrize(("edit", "cause"), [
    (("        self.grad = 1\n", ""), "CAUSE_NO_SEED"),
    (("        order = []\n", ""), "CAUSE_IN_BACKWARD"),
])
@pytest.mark.slow
def test_a_whole_engine_fault_of_back_prop_is_named(edit: tuple[str, str], cause: str) -> None:
    """sanity reads back_prop() as backward(): its own faults are the engine's, said with its name."""
    from vetgrad.conformance.run.campaign import run_campaign
    from vetgrad.conformance.subject import sanity

    source = V.notebook_source()
    assert source.count(edit[0]) == 1
    name = f"_vetgrad_spelling_nb_{cause.lower()}"
    module = types.ModuleType(name)
    module.__vetgrad_source__ = source.replace(*edit)
    module.__file__ = str(V.NOTEBOOK_PATH)
    sys.modules[name] = module
    exec(compile(module.__vetgrad_source__, f"<{name}>", "exec"), module.__dict__)
    report = run_campaign(f"{name}:Value", graphs=30, max_nodes=8, level="math", max_findings=3)
    first = report.findings[0]
    assert (first.level, first.op, first.cause) == ("math", "graph", getattr(sanity, cause)), first.message
    if cause == "CAUSE_NO_SEED":
        assert "x.back_prop() leaves x.grad" in first.message


@pytest.mark.torch
@pytest.mark.slow
def test_the_cli_says_the_spelling_once_and_the_json_records_it(tmp_path: Path, capsys) -> None:
    from vetgrad.conformance.run.cli import main

    path = V.write_notebook(None, tmp_path)
    report = tmp_path / "report.json"
    status = main(["--engine", f"{path}:Value", "--graphs", "30", "--max-nodes", "8", "--level", "math",
                   "--json", str(report), "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("spelled: value .val, children .children, op label .op, backward .back_prop()") == 1
    data = json.loads(report.read_text())
    assert data["spelled"] == {"value": "val", "grad": "grad", "children": "children", "op_label": "op",
                               "backward": "back_prop"}
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("vetgrad.conformance").joinpath("report.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert main(["--engine", f"{path}:Value", "--show-probe"]) == 0
    probe = capsys.readouterr().out
    assert probe.splitlines()[1] == "  spelled: value .val, children .children, op label .op, backward .back_prop()"


@pytest.mark.torch
@pytest.mark.slow
def test_micrograds_spelling_is_not_said(tmp_path: Path, capsys) -> None:
    from vetgrad.conformance.run.cli import main

    pytest.importorskip("micrograd")
    report = tmp_path / "report.json"
    assert main(["--engine", "micrograd.engine:Value", "--graphs", "20", "--max-nodes", "6",
                 "--json", str(report), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "spelled" not in out
    assert json.loads(report.read_text())["spelled"] == MICROGRAD.to_json()
    assert main(["--engine", "micrograd.engine:Value", "--show-probe"]) == 0
    assert "spelled" not in capsys.readouterr().out
