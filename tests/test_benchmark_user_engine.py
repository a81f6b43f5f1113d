"""``python -m vetgrad.benchmarks --engine SPEC``: a user's engine as a contender of the dag and
chain suites, checked against the float64 reference; target rows say "met" only for sizes measured
in the run; each contender drawn in one style in every panel of the plot."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from vetgrad.benchmarks import contenders, markdown, plot, report, runner
from vetgrad.benchmarks.report import main
from vetgrad.conformance.subject.adapters import EngineLoadError

ROOT = Path(__file__).resolve().parent.parent
LECTURE = ROOT / "tests" / "engines" / "learners" / "lecture.py"
TINY = ["--suites", "dag", "--sizes", "100", "--contenders", "vetgrad", "--no-plot"]


@pytest.fixture(autouse=True)
def _few_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two or three timed rounds, no minimum time: the tests check what is run, not its speed."""
    budget = runner.Budget(min_rounds=2, max_rounds=3, min_time=0.0)
    monkeypatch.setitem(report.MODES, "quick", dataclasses.replace(report.MODES["quick"],
                                                                    budget=budget))


def _engine(tmp_path: Path, kind: str) -> str:
    """A spec of an engine of ``kind``, written under tmp_path when it is not the lecture's."""
    if kind == "lecture-file":
        return f"{LECTURE}:Value"
    if kind == "lecture-module":
        return "tests.engines.learners.lecture:Value"
    folder = tmp_path / "bob"
    folder.mkdir()
    source = LECTURE.read_text()
    if kind == "wrong-grad":  # mul's backward forgets the chain rule for its first operand
        old = "self.grad += other.data * out.grad"
        assert source.count(old) == 1
        source = source.replace(old, "self.grad += other.data")
    elif kind == "no-import":
        source = "import no_such_module_here\n" + source
    (folder / "engine.py").write_text(source)
    return f"{folder / 'engine.py'}:Value"


# (engine, extra argv, exit status, what stdout's rows or stderr's one line say)
CASES = [
    pytest.param("lecture-file", [], 0, "| learners/lecture | 99 |", id="file-spec"),
    pytest.param("lecture-module", [], 0, "| tests.engines.learners.lecture | 99 |",
                 id="module-spec"),
    pytest.param("lecture-file", ["--suites", "chain", "--sizes", "1k"], 0,
                 "| learners/lecture | 1,000 |", id="chain-suite"),
    pytest.param("wrong-grad", [], 1, "| bob/engine | 99 | **wrong**: dag of 99 nodes: "
                 "d(root)/d(first leaf)", id="wrong-numbers-marked"),
    pytest.param("no-import", [], 2, "error: --engine ", id="does-not-import"),
]


@pytest.mark.parametrize(("kind", "argv", "status", "says"), CASES)
@pytest.mark.slow
def test_engine_option(kind: str, argv: list[str], status: int, says: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    spec = _engine(tmp_path, kind)
    assert main([*TINY, *argv, "--engine", spec]) == status
    out, err = capsys.readouterr()
    if status == 2:
        [line] = [x for x in err.splitlines() if x.strip()]  # one line, no usage text
        assert says in line and "No module named 'no_such_module_here'" in line
        assert out == ""
    else:
        assert says in out, out
        if status == 0:
            assert "Your engine `" in out and "Every result matched its reference." in out


@pytest.mark.parametrize(("spec", "says"), [
    ("no/such/engine.py:Value", "no such file no/such/engine.py"),
    ("no_such_module_here:Value", "cannot import module 'no_such_module_here'"),
    (f"{LECTURE}:Valu", f"module {LECTURE} has no attribute 'Valu'"),
    ("engine.py", "give module:Value or path/to/engine.py:Value"),
])
def test_an_engine_that_cannot_load_is_one_usage_error_line(
        spec: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TINY, "--engine", spec]) == 2
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("python -m vetgrad.benchmarks: error: --engine ") and says in line


@pytest.mark.parametrize(("spec", "taken", "name"), [
    ("alice/engine.py:Value", (), "alice/engine"),
    ("engine.py:Value", (), "engine"),  # (its folder: the current one's name, checked below)
    ("mypkg.engine:Value", (), "mypkg.engine"),
    ("mypkg.engine:Tensor", (), "mypkg.engine:Tensor"),
    ("mypkg.engine:Value", ("mypkg.engine",), "mypkg.engine#2"),  # --engine given twice
    ("micrograd:Value", (), "micrograd#2"),  # never a built-in contender's name
])
def test_a_user_contender_is_named_from_its_spec(spec: str, taken: tuple[str, ...], name: str,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    file = spec.partition(":")[0]
    if file.endswith(".py"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text("")
        if "/" not in file:
            name = f"{tmp_path.name}/{name}"
    c = contenders.user(spec, taken)
    assert (c.name, c.family, c.suites) == (name, "user", ("dag", "chain"))
    assert c.engine is not None and (not file.endswith(".py") or Path(c.engine).is_absolute())


def test_a_missing_file_is_refused_before_any_worker_starts() -> None:
    with pytest.raises(EngineLoadError, match="no such file"):
        contenders.user("nowhere/engine.py:Value")


# -- "met" only when measured -------------------------------------------------------------------

def _dag(ratios: dict[int, float | str], against: str = "torch-f64") -> list[runner.GraphResult]:
    """vetgrad at 1.0 s and ``against`` at ``ratios[size]`` s (or that status) per DAG size."""
    rows = []
    for size, x in ratios.items():
        rows.append(runner.GraphResult("dag", size, "vetgrad", "ok", size, total=1.0))
        rows.append(runner.GraphResult("dag", size, against, "ok", size, total=x)
                    if isinstance(x, float) else
                    runner.GraphResult("dag", size, against, x, size, message="why"))
    return rows


# (measured ratios to vetgrad by size, the torch target's verdict)
MET_CASES = [
    pytest.param({1_000: 20.0, 10_000: 20.0, 100_000: 20.0}, "| **met** |", id="every-size"),
    pytest.param({1_000: 20.0}, "| **not measured** at 10,000, 100,000 (met at 1,000) |",
                 id="quick-sizes-1k-only"),
    pytest.param({100: 20.0, 1_000: 20.0, 10_000: 20.0},
                 "| **not measured** at 100,000 (met at 1,000, 10,000) |", id="no-100k"),
    pytest.param({1_000: 20.0, 10_000: 20.0, 100_000: "failed"},
                 "| **not measured** at 100,000 (met at 1,000, 10,000) |", id="torch-failed"),
    pytest.param({1_000: 20.0, 10_000: 20.0, 100_000: "absent"},
                 "| **not measured** at 100,000 (met at 1,000, 10,000) |", id="torch-absent"),
    pytest.param({1_000: 5.0, 10_000: 20.0}, "| **missed** at 1,000 |", id="missed-wins"),
    pytest.param({100: 20.0}, "| not measured | n/a |", id="below-the-range"),
]


@pytest.mark.parametrize(("ratios", "verdict"), MET_CASES)
def test_a_target_is_met_only_at_sizes_measured(ratios: dict[int, float | str],
                                               verdict: str) -> None:
    lines = markdown.targets(runner.Results(graphs=_dag(ratios)))
    [line] = [x for x in lines if "torch eager float64" in x]
    assert line.endswith(verdict), line


@pytest.mark.parametrize(("sizes", "verdict"), [
    ((1_000, 10_000, 100_000), "| **met** |"),
    ((1_000,), "| **not measured** at 10,000, 100,000 (met at 1,000) |"),
])
def test_a_compiled_target_is_met_only_at_sizes_measured(sizes: tuple[int, ...],
                                                        verdict: str) -> None:
    rows = [runner.GraphResult("dag", s, name, "ok", s, total=t)
            for s in sizes for name, t in (("vetgrad", 10.0), ("vetgrad-compiled", 1.0))]
    [line] = [x for x in markdown.targets(runner.Results(graphs=rows)) if "≥ 4× faster" in x]
    assert line.endswith(verdict), line


# -- one style per contender ---------------------------------------------------------------------

def test_the_style_table_gives_every_contender_its_own_style() -> None:
    shown = {c.name.removesuffix("-1") if c.name.endswith("-1") else c.name
             for c in contenders.CONTENDERS}
    assert shown == set(plot.STYLES)
    looks = [(s.color, s.marker, s.filled) for s in plot.STYLES.values()]
    assert len(set(looks)) == len(looks) and len({s.color for s in plot.STYLES.values()}) == len(looks)
    user = plot.style("learners/lecture")
    assert user in plot.USER_STYLES and user.color not in {s.color for s in plot.STYLES.values()}
    assert plot.style("learners/lecture") == user  # a fixed hash: the same in every run


@pytest.mark.slow
def test_a_contender_keeps_its_style_in_every_panel(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at its lines
    names = ("vetgrad", "vetgrad-compiled", "micrograd", "learners/lecture")
    graphs = [runner.GraphResult(kind, size, name, "ok", size, total=1e-3 * (k + 1))
              for kind in ("dag", "chain") for size in (1_000, 10_000)
              for k, name in enumerate(names if kind == "dag" else names[2:])]
    steps = [runner.MlpResult(name, "ok", step=1e-3, batch=b)
             for name in ("micrograd", "vetgrad", "vetgrad-step", "vetgrad-step-1")
             for b in ([32] if not name.endswith("-1") else [1])]
    plot.plot(graphs, tmp_path / "p.png", steps)
    [fig] = figures
    seen: dict[str, set[tuple[object, ...]]] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            name = line.get_label()
            seen.setdefault(name, set()).add(
                (line.get_color(), line.get_marker(), line.get_fillstyle(), line.get_linestyle()))
    assert set(seen) == {*names, "vetgrad-step"}
    assert all(len(looks) == 1 for looks in seen.values()), seen
    assert len({next(iter(v)) for v in seen.values()}) == len(seen)  # and no two alike
    plt.close("all")
