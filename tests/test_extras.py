"""What a missing optional dependency's message says to install: one text (vetgrad._extras), that
works from a clone of vetgrad too and says how to get PyTorch's CPU-only wheel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from vetgrad._extras import TORCH_CPU, install_hint

ROOT = Path(__file__).resolve().parent.parent

# install_hint's arguments -> what the text holds, and whether it says how to get torch's CPU wheel
HINTS = [
    ({"extra": "conformance"}, "pip install 'vetgrad[conformance]' (in a clone of vetgrad: pip install -e '.[conformance]')", True),
    ({"extra": "bench"}, "pip install 'vetgrad[bench]' (in a clone of vetgrad: pip install -e '.[bench]')", True),
    ({"extra": "cluster"}, "pip install 'vetgrad[cluster]' (in a clone of vetgrad: pip install -e '.[cluster]')", True),
    ({"extra": "plot"}, "pip install 'vetgrad[plot]' (in a clone of vetgrad: pip install -e '.[plot]')", False),
    ({"extra": "graph"}, "pip install 'vetgrad[graph]' (in a clone of vetgrad: pip install -e '.[graph]')", False),
    ({"packages": ["numpy"]}, "pip install numpy", False),
    ({"packages": ["torch"]}, "pip install torch", True),
    ({}, "pip install vetgrad (in a clone of vetgrad: pip install -e .)", False),
]


@pytest.mark.parametrize(("kwargs", "says", "cpu_wheel"), HINTS)
def test_install_hint(kwargs: dict, says: str, cpu_wheel: bool) -> None:
    text = install_hint(**kwargs)
    assert text.startswith(says)
    assert (f"; for PyTorch's CPU-only wheel (no multi-GB CUDA download): {TORCH_CPU}" in text) \
        is cpu_wheel
    assert text == says + (text[len(says):] if cpu_wheel else "")


def _messages(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings (messages, help, scripts)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


@pytest.mark.parametrize("folder", ["engine", "nn", "conformance", "package"])
def test_every_install_message_comes_from_install_hint(folder: str) -> None:
    """No pip command spelled out anywhere else: each message asks install_hint."""
    spelled = [f"{p.relative_to(ROOT)}:{line}: {text!r}"
               for p in sorted((ROOT / folder).rglob("*.py")) if p.name != "_extras.py"
               for line, text in _messages(p) if "pip install" in text]
    assert spelled == []


def test_the_hint_imports_nothing() -> None:
    """engine/ (zero dependencies, never importing the harness) may use it."""
    tree = ast.parse((ROOT / "package" / "_extras.py").read_text())
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert imported <= {"__future__", "typing"}
