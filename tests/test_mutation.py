"""The mechanical mutation tool (tests/mutation/) and the learner-style engines it runs on
(tests/engines/learners/): each kind of mutation on a tiny source, every mutant of the lecture
engine compiles, ids are stable; the learners' engines behave as their docstrings say; one mutant
end to end through the runner."""

from __future__ import annotations

import json
import math

import pytest

from tests.engines.learners import variants as V  # noqa: N812
from tests.mutation import micrograd_tests, mutate, run

BACKWARD = """class Value:
    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(t)

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def __repr__(self):
        return f"Value({self.data * 1})"

    def backward(self):
        for v in reversed(topo):
            v._backward()
"""

# kind, source, a line that one mutant of that kind has (and the original does not)
CASES = [
    ("binop", "y = a + b\n", "y = a - b"),
    ("binop", "y = a + b\n", "y = a * b"),
    ("binop", "y = a + b\n", "y = a / b"),
    ("binop", "y = a + b\n", "y = a ** b"),
    ("binop", "y = a ** b\n", "y = a + b"),
    ("assign", "g += d\n", "g = d"),
    ("subassign", "g += d\n", "g -= d"),
    ("const", "y = c * 2\n", "y = c * 3"),
    ("const", "y = c * 2\n", "y = c * 1"),
    ("const", "y = c * 0\n", "y = c * 1"),
    ("const", "y = c * 1\n", "y = c * 0"),
    ("const", "y = c * 1.5\n", "y = c * 2.5"),
    ("negdrop", "y = -x\n", "y = x"),
    ("negadd", "y = a * b\n", "y = -a * b"),
    ("negadd", "y = a * b\n", "y = a * -b"),
    ("negadd", "out = Value(t, ())\n", "out = Value(-t, ())"),
    ("compare", "y = a > 0\n", "y = a >= 0"),
    ("compare", "y = a > 0\n", "y = a < 0"),
    ("compare", "y = a < 0\n", "y = a <= 0"),
    ("compare", "y = a < 0\n", "y = a > 0"),
    ("compare", "y = a >= 0\n", "y = a > 0"),
    ("compare", "y = a <= 0\n", "y = a < 0"),
    ("swap", BACKWARD, "self.grad += other.data * self.grad"),
    ("swap", BACKWARD, "other.grad += other.data * out.grad"),
    ("swap", BACKWARD, "self.grad += (1 - t ** 2) * self.grad"),
    ("delete", BACKWARD, "other.grad += self.data * out.grad"),  # the line above it deleted
    ("delete", BACKWARD, "for v in reversed(topo):"),              # its body replaced by pass
    ("unreversed", BACKWARD, "for v in topo:"),
]


def _lines(source: str) -> set[str]:
    return {line.strip() for line in source.splitlines()}


@pytest.mark.parametrize(("kind", "source", "line"), CASES)
def test_each_kind_of_mutation(kind: str, source: str, line: str) -> None:
    found = mutate.mutants(source, (kind,))
    assert found and all(m.kind == kind for m in found)
    if kind == "delete" and line.startswith("for"):
        assert any("pass" in _lines(m.source) - _lines(ast_unparse(source)) for m in found)
        return
    if kind == "delete":
        assert any("self.grad += other.data * out.grad" not in m.source and line in m.source
                   for m in found)
        return
    assert line not in _lines(ast_unparse(source))
    assert any(line in _lines(m.source) for m in found), [m.description for m in found]
    for m in found:
        compile(m.source, m.id, "exec")


def ast_unparse(source: str) -> str:
    import ast

    return ast.unparse(ast.parse(source))


def test_swap_only_to_names_the_method_binds() -> None:
    found = mutate.mutants(BACKWARD, ("swap",))
    tanh = [m for m in found if m.method == "tanh"]
    assert tanh and not any("other" in m.after for m in tanh)  # tanh has no `other`
    assert all(m.op in ("mul", "tanh") for m in found)


def test_deletes_only_in_backward_rules_and_structure() -> None:
    found = mutate.mutants(BACKWARD, ("delete",))
    assert {m.method for m in found} == {"__mul__", "tanh", "backward"}
    assert sum("out._backward = _backward" in m.before for m in found) == 2


def test_repr_changes_are_equivalent_and_duplicates_marked() -> None:
    found = mutate.mutants(BACKWARD)
    repr_ = [m for m in found if m.method == "__repr__"]
    assert repr_ and all(m.equivalent for m in repr_)
    assert not any(m.equivalent for m in found if m.method != "__repr__")
    twins = mutate.mutants("y = a + a\n", ("negadd",))
    assert len(twins) == 2 and not twins[0].duplicate_of and not twins[1].duplicate_of
    same = mutate.mutants("y = -(-a)\n", ("negdrop",))  # dropping either minus gives -a
    assert same[1].duplicate_of == same[0].id


@pytest.mark.slow
def test_lecture_mutants_compile_with_stable_unique_ids() -> None:
    source = mutate.LECTURE.read_text(encoding="utf-8")
    first = mutate.mutants(source)
    again = mutate.mutants(source)
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first) > 200
    assert {m.kind for m in first} == set(mutate.KINDS)
    for m in first:
        compile(m.source, m.id, "exec")
        assert m.op, m.id  # every change is inside an op's method or backward()
    assert any(m.kind == "unreversed" and m.op == "graph" for m in first)
    assert any(m.kind == "assign" and m.op == "tanh" for m in first)


def test_mutate_command_line(tmp_path, capsys) -> None:
    assert mutate.main(["--kinds", "unreversed,assign", "--write", str(tmp_path),
                        "--json", str(tmp_path / "m.json")]) == 0
    listed = json.loads((tmp_path / "m.json").read_text())
    assert len(listed) == 1 + 8 and sorted(p.name for p in tmp_path.glob("m*.py"))[0] == "m000.py"
    assert "for node in topo:" in capsys.readouterr().out


# -- the learner-style engines -------------------------------------------------------------------


def _grad(value: type, build) -> float:
    x = value(0.5)
    build(x).backward()
    return x.grad


@pytest.mark.parametrize("name", V.EQ_BUG)
def test_each_eq_variant_loses_a_contribution_on_a_small_graph(name: str) -> None:
    op = V.BUGGY_OP[name]
    unary = {"tanh": lambda x: x.tanh(), "exp": lambda x: x.exp(), "relu": lambda x: x.relu(),
             "pow": lambda x: x**3}
    if op in unary:
        def build(x, f=unary[op]):
            return x * f(x)     # f's backward runs last and overwrites x's .grad from mul
    elif name.endswith("_self"):
        def build(x):
            return (x * 3 + 2) * x if op == "mul" else (x + 2) * x
    else:
        def build(x):
            return (x * x) * x if op == "mul" else (x + x) * x
    assert _grad(V.load(name), build) != pytest.approx(_grad(V.load(), build), rel=1e-9)


def test_correct_variants_and_lecture_pass_micrograds_tests() -> None:
    for name in (None, *sorted(V.CORRECT)):
        assert micrograd_tests.failures(V.load(name)) == {}
    assert set(micrograd_tests.failures(V.load("eq_add"))) >= {"test_sanity_check", "test_more_ops"}
    assert micrograd_tests.failures(V.load("eq_tanh")) == {}  # micrograd's tests miss the lecture's bug
    assert "test_more_ops" in micrograd_tests.failures(V.load("topo_unreversed"))


def test_written_variant_is_a_file_the_harness_can_load(tmp_path) -> None:
    path = V.write_variant("eq_tanh", tmp_path)
    assert "self.grad = (1 - t**2) * out.grad" in path.read_text()
    assert V.spec("eq_tanh").endswith(":Value")


def _load_file(name: str) -> type:
    return V.load_learner(name)


def test_self_recursive_sub_recurses_on_two_nodes() -> None:
    value = _load_file("self_recursive_sub")
    with pytest.raises(RecursionError):
        value(1.0) - value(2.0)


def test_sigmoid_exact_is_closer_to_exact_than_torch_at_59() -> None:
    value = _load_file("sigmoid_exact")
    x = value(59.0)
    x.sigmoid().backward()
    exact = math.exp(-59.0) / (1 + math.exp(-59.0)) ** 2
    assert x.grad == pytest.approx(exact, rel=1e-15) and x.grad > 0.0
    y = value(0.5)
    y.sigmoid().backward()
    s = 1 / (1 + math.exp(-0.5))
    assert y.grad == pytest.approx(s * (1 - s), rel=1e-14)


def test_tanh_grad_scaled_is_wrong() -> None:
    x = _load_file("tanh_grad_scaled")(0.0)
    x.tanh().backward()
    assert x.grad == 2.0


# -- the runner ----------------------------------------------------------------------------------


def test_runner_judges_a_row_against_the_baseline() -> None:
    m = mutate.mutants("y = a + b\n", ("binop",))[0]
    base = run.Harness(1, 0.1, {"levels": {"math": {"causes": [
        {"cause": "raises OverflowError", "graphs_by_op": {"tanh": 3}}]}},
        "findings": [{"level": "math", "op": "tanh", "cause": "raises OverflowError"}]})
    mine = run.Harness(1, 0.1, {"levels": {"math": {"causes": [
        {"cause": "raises OverflowError", "graphs_by_op": {"tanh": 3}},
        {"cause": "wrong value", "graphs_by_op": {"add": 9}}]}},
        "findings": [{"level": "math", "op": "tanh", "cause": "raises OverflowError"},
                     {"level": "math", "op": "add", "cause": "wrong value"}]})
    row = run.Row(0, m)
    run.judge(row, mine, base)
    assert row.status == "caught" and row.first["op"] == "tanh" and row.first_new["op"] == "add"
    assert row.beyond_baseline
    same = run.Row(1, m)
    run.judge(same, base, base)
    assert same.status == "caught" and not same.first_new and not same.beyond_baseline
    for exit_, reason, status in [(0, "", "survived"), (None, "no verdict", "timeout"),
                                  (2, "the engine cannot be loaded: SyntaxError", "usage"),
                                  (2, "harness traceback: KeyError", "error"), (1, "", "error")]:
        r = run.Row(2, m)
        run.judge(r, run.Harness(exit_, 0.1, None, reason), base)
        assert r.status == status, (exit_, reason)


def test_listed_equivalents_are_read(tmp_path) -> None:
    md = tmp_path / "EQUIVALENT.md"
    md.write_text("# x\n\n- `compare:relu:L98:C25-38:<><=`: relu(0) is 0 either way\n")
    assert run.listed_equivalents(md) == {"compare:relu:L98:C25-38:<><=": "relu(0) is 0 either way"}


@pytest.mark.slow
def test_one_mutant_end_to_end(tmp_path, capsys) -> None:
    # add's `self.grad += ...` made `=`: the harness (and micrograd's tests) must catch it
    assert run.main(["--graphs", "50", "--jobs", "1", "--only", "assign:__add__:L28",
                     "--keep", str(tmp_path), "--json", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    (row,) = data["mutants"]
    assert row["op"] == "add" and row["status"] == "caught", row
    assert row["micrograd_failures"]
    assert data["summary"]["caught"] == 1 and (tmp_path / f"m{row['index']:03d}.py").exists()
    assert "caught" in capsys.readouterr().out


@pytest.mark.slow
def test_retable_reapplies_the_equivalent_list(tmp_path, capsys) -> None:
    found = mutate.mutants(mutate.LECTURE.read_text(encoding="utf-8"))
    listed = run.listed_equivalents()
    assert listed and set(listed) <= {m.id for m in found}  # EQUIVALENT.md names real mutants
    rows = [run.Row(i, m, status="survived", exit=0) for i, m in enumerate(found) if m.id in listed]
    data = {"source": str(mutate.LECTURE), "summary": {"baseline_math_causes": []},
            "baseline": {"exit": 0, "seconds": 1.0}, "mutants": [r.to_json() for r in rows]}
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert run.main(["--retable", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert f"equivalent: {len(rows)}" in out and "survived: 0" in out
