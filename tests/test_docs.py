"""The docs read the op table: the README's table is the one `python -m vetgrad.engine.ops` prints."""

from __future__ import annotations

from pathlib import Path

from vetgrad.engine.ops import markdown_table, public_ops

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_op_table_is_generated_from_the_op_table() -> None:
    assert markdown_table() in README.read_text(), "run: python -m vetgrad.engine.ops and paste into README.md"


def test_every_public_op_is_a_method_or_operator_of_value() -> None:
    from vetgrad.engine import Value

    for op in public_ops():
        assert op.method is None or callable(getattr(Value, op.method)), op.name
        assert op.dunder is None or hasattr(Value, f"__{op.dunder}__"), op.name


def _readme_example(name: str) -> str:
    text = README.read_text()
    start = text.index(f"<!-- readme-example: {name} -->")
    block = text[text.index("```python\n", start) + len("```python\n"):]
    return block[:block.index("```")]


def test_readme_api_example_runs_as_written() -> None:
    import pytest

    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    exec(compile(_readme_example("api"), "README.md (api example)", "exec"), {})


def test_readme_training_steps_example_runs_as_written() -> None:
    import pytest

    pytest.importorskip("numpy", reason="batched_step needs numpy")
    exec(compile(_readme_example("steps"), "README.md (steps example)", "exec"), {})


def _run_adapter(folder: Path, source: str) -> tuple[int, str]:
    """``python -m vetgrad.conformance --engine myadapter:MyAdapter`` from ``folder``, as the README says."""
    import os
    import subprocess
    import sys

    (folder / "myadapter.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(README.parent)}
    proc = subprocess.run([sys.executable, "-m", "vetgrad.conformance", "--engine", "myadapter:MyAdapter",
                           "--graphs", "60", "--no-shrink"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_readme_adapter_example_runs_as_written(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    status, out = _run_adapter(tmp_path, _readme_example("adapter"))
    assert status == 0, out
    assert "math ✔" in out and "unsupported (not tested): sub" in out, out


def test_an_adapter_failing_in_its_own_code_exits_2_naming_it(tmp_path: Path) -> None:
    """The README's adapter as it used to be written: ``mylib`` undefined, NameError in leaf()."""
    import pytest

    pytest.importorskip("torch", reason="the harness compares against PyTorch")
    source = _readme_example("adapter")
    line = "mylib = types.SimpleNamespace(Scalar=Scalar, add=add, mul=mul, tanh=tanh)\n"
    assert line in source
    status, out = _run_adapter(tmp_path, source.replace(line, ""))
    assert status == 2, out
    assert "the adapter myadapter:MyAdapter failed in its own code: leaf(0.7) raised NameError: " \
           "name 'mylib' is not defined" in out, out
    assert "passed" not in out, out


def test_readme_batch_example_runs_and_prints_what_it_says(capsys: object) -> None:
    import pytest

    pytest.importorskip("numpy")
    source = _readme_example("batch")
    exec(compile(source, "README.md (batch example)", "exec"), {})
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert printed.startswith("[2.0, 0.0, 0.0, 2.0]\n")
    for line in ("v2 = v0 * v1", "v3 = relu(v2)", "g2 = where(v3 <= 0.0, 0.0, g3)"):
        assert f"    {line}\n" in printed


LADDER = README.parent / "docs" / "ladder.md"


def test_the_ladder_spec_names_every_ordinary_region_of_the_op_table() -> None:
    """docs/ladder.md's table of ordinary regions lists exactly the ops whose row has one."""
    from vetgrad.engine.ops import OPS

    text = LADDER.read_text()
    table = text[text.index("| op       | ordinary region"):].split("\n\n")[0]
    listed = {line.split("|")[1].strip() for line in table.splitlines()[2:]}
    assert listed == {name for name, op in OPS.items() if op.ordinary is not None}


def test_the_ladder_spec_states_the_bounds_levels_py_uses() -> None:
    from vetgrad.conformance import levels

    def e(x: float) -> str:  # 1e-06 as the spec writes it, 1e-6
        return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")

    text = LADDER.read_text()
    assert f"{e(levels.LOW)} ≤ |x| ≤ {e(levels.HIGH)}" in text
    assert f"{e(levels.DERIV_LOW)} ≤ |d| ≤ {e(levels.DERIV_HIGH)}" in text
    assert f"at most {levels.SHALLOW_DEPTH} ops deep" in text and levels.LEVELS == ("math", "robust", "torch")
