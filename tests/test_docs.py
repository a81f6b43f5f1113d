"""The docs read the op table: the README's table is the one `python -m engine.ops` prints."""

from __future__ import annotations

from pathlib import Path

from engine.ops import markdown_table, public_ops

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_op_table_is_generated_from_the_op_table() -> None:
    assert markdown_table() in README.read_text(), "run: python -m engine.ops and paste into README.md"


def test_every_public_op_is_a_method_or_operator_of_value() -> None:
    from engine import Value

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
