"""The docs hold what the code does: the op table in docs/engine.md is the one
`python -m vetgrad.engine.ops` prints, every `<!-- docs-example: NAME -->` block of README.md,
CONTRIBUTING.md and docs/*.md runs as written, every relative link resolves, and the README stays
a front door (at most 200 lines, its two set-up commands as they are)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vetgrad.engine.ops import markdown_table, public_ops

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENGINE_DOC = ROOT / "docs" / "engine.md"
LADDER = ROOT / "docs" / "ladder.md"


def _doc_files() -> list[Path]:
    return [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


_MARKER = re.compile(r"^<!-- docs-example: ([\w-]+) -->$", re.M)
_EXAMPLE = re.compile(r"^<!-- docs-example: ([\w-]+) -->\n```python\n(.*?)^```", re.S | re.M)


def _examples() -> dict[str, tuple[Path, str]]:
    """Every example of the docs: its name -> (the file it is in, its source)."""
    found: dict[str, tuple[Path, str]] = {}
    for path in _doc_files():
        text = path.read_text()
        blocks = _EXAMPLE.findall(text)
        assert len(blocks) == len(_MARKER.findall(text)), f"{path.name}: a docs-example marker not followed by ```python"
        for name, source in blocks:
            assert name not in found, f"docs example {name!r} in {found[name][0].name} and {path.name}"
            found[name] = (path, source)
    return found


def _run(name: str, namespace: dict | None = None) -> dict:
    path, source = _examples()[name]
    namespace = {} if namespace is None else namespace
    exec(compile(source, f"{path.relative_to(ROOT)} ({name} example)", "exec"), namespace)
    return namespace


# what runs each example; a new example needs a line here (test_every_docs_example_is_run)
_RUN_BY = {
    "readme-engine": "test_readme_engine_example_prints_what_it_says",
    "readme-nn": "test_plain_examples_run_as_written",
    "tour": "test_plain_examples_run_as_written",
    "more": "test_plain_examples_run_as_written",
    "compile": "test_plain_examples_run_as_written",
    "nn-lecture": "test_nn_examples_run_as_written",
    "nn-parts": "test_nn_examples_run_as_written",
    "batch": "test_batch_example_runs_and_prints_what_it_says",
    "steps": "test_training_steps_example_runs_as_written",
    "api": "test_api_example_runs_as_written",
    "adapter": "test_adapter_example_runs_as_written",
}


def test_every_docs_example_is_run() -> None:
    assert set(_examples()) == set(_RUN_BY)
    assert all(name in globals() for name in _RUN_BY.values())


# the README


def test_readme_is_a_front_door() -> None:
    """At most 200 lines; the two commands that set up a fresh machine, exactly; checking your own
    engine within its first screenfuls."""
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, len(lines)
    text = "\n".join(lines)
    assert "pip install tox && tox -e conformance" in text
    assert "pip install tox && tox  " in text
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in text
    first = next(i for i, line in enumerate(lines, 1) if "--engine engine:Value" in line)
    assert first <= 60, first


def test_readme_counts_the_ops_of_the_table() -> None:
    assert f"{len(public_ops())} ops, each declared once" in README.read_text()


def test_readme_engine_example_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    source = _examples()["readme-engine"][1]
    _run("readme-engine")
    said = [line.split("# ")[1].split(":")[0].split(", as")[0].strip()
            for line in source.splitlines() if line.startswith("print(")]
    assert capsys.readouterr().out.splitlines() == said


# docs/engine.md


def test_the_op_table_is_generated_from_the_op_table() -> None:
    assert markdown_table() in ENGINE_DOC.read_text(), "run: python -m vetgrad.engine.ops and paste into docs/engine.md"


def test_every_public_op_is_a_method_or_operator_of_value() -> None:
    from vetgrad.engine import Value

    for op in public_ops():
        assert op.method is None or callable(getattr(Value, op.method)), op.name
        assert op.dunder is None or hasattr(Value, f"__{op.dunder}__"), op.name


@pytest.mark.parametrize("name", ["readme-nn", "tour", "more", "compile"])
def test_plain_examples_run_as_written(name: str) -> None:
    _run(name)


def test_batch_example_runs_and_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numpy")
    _run("batch")
    printed = capsys.readouterr().out
    assert printed.startswith("[2.0, 0.0, 0.0, 2.0]\n")
    for line in ("v2 = v0 * v1", "v3 = relu(v2)", "g2 = where(v3 <= 0.0, 0.0, g3)"):
        assert f"    {line}\n" in printed


# docs/nn.md


def test_nn_examples_run_as_written() -> None:
    namespace = _run("nn-lecture")
    _run("nn-parts", namespace)  # the library's parts train on the lecture's xs, ys


@pytest.mark.slow
def test_training_steps_example_runs_as_written() -> None:
    pytest.importorskip("numpy", reason="batched_step needs numpy")
    _run("steps")


# docs/conformance.md


@pytest.mark.slow
def test_api_example_runs_as_written() -> None:
    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    _run("api")


def _run_adapter(folder: Path, source: str) -> tuple[int, str]:
    """``python -m vetgrad.conformance --engine myadapter:MyAdapter`` from ``folder``, as the docs say."""
    import os
    import subprocess
    import sys

    (folder / "myadapter.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "vetgrad.conformance", "--engine", "myadapter:MyAdapter",
                           "--graphs", "60", "--no-shrink"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow
def test_adapter_example_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    status, out = _run_adapter(tmp_path, _examples()["adapter"][1])
    assert status == 0, out
    assert "math ✔" in out and "unsupported (not tested): sub" in out, out


@pytest.mark.slow
def test_an_adapter_failing_in_its_own_code_exits_2_naming_it(tmp_path: Path) -> None:
    """The docs' adapter as it used to be written: ``mylib`` undefined, NameError in leaf()."""
    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    source = _examples()["adapter"][1]
    line = "mylib = types.SimpleNamespace(Scalar=Scalar, add=add, mul=mul, tanh=tanh)\n"
    assert line in source
    status, out = _run_adapter(tmp_path, source.replace(line, ""))
    assert status == 2, out
    assert "the adapter myadapter:MyAdapter failed in its own code: leaf(0.7) raised NameError: " \
           "name 'mylib' is not defined" in out, out
    assert "passed" not in out, out


# docs/ladder.md


def test_the_ladder_spec_names_every_ordinary_region_of_the_op_table() -> None:
    """docs/ladder.md's table of ordinary regions lists exactly the ops whose row has one."""
    from vetgrad.engine.ops import OPS

    text = LADDER.read_text()
    table = text[text.index("| op       | ordinary region"):].split("\n\n")[0]
    listed = {line.split("|")[1].strip() for line in table.splitlines()[2:]}
    assert listed == {name for name, op in OPS.items() if op.ordinary is not None}


def test_the_ladder_spec_states_the_bounds_levels_py_uses() -> None:
    from vetgrad.conformance.judging import levels

    def e(x: float) -> str:  # 1e-06 as the spec writes it, 1e-6
        return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")

    text = LADDER.read_text()
    assert f"{e(levels.LOW)} ≤ |x| ≤ {e(levels.HIGH)}" in text
    assert f"{e(levels.DERIV_LOW)} ≤ |d| ≤ {e(levels.DERIV_HIGH)}" in text
    assert f"at most {levels.SHALLOW_DEPTH} ops deep" in text and levels.LEVELS == ("math", "robust", "torch")


# links

# Linked before they exist, each written by another part of the work: skipped while missing,
# checked like any other link once there.
PENDING: dict[str, str] = {}

_CODE = re.compile(r"^```.*?^```|`[^`\n]*`", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors: set[str] = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        n, candidate = 0, slug
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def test_every_relative_link_of_the_docs_resolves() -> None:
    broken = []
    for path in _doc_files():
        for target in _LINK.findall(_CODE.sub("", path.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else str(dest)
            if not dest.exists():
                if rel not in PENDING:
                    broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
