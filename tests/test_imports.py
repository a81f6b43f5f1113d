"""No import cycles inside a part: each module can be read (and imported) after the modules it
uses, with nothing installed behind its back by a module above it. Every import statement counts,
function-level ones included: a cycle hidden in a function still ties the two modules together.
And every import between the parts goes through the one installed name, ``vetgrad``: a bare
``import engine`` would find a learner's engine.py (or nothing, installed)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# folder of the repository -> its installed name (pyproject.toml's package-dir)
INSTALLED = {"package": "vetgrad", "engine": "vetgrad.engine", "nn": "vetgrad.nn",
             "conformance": "vetgrad.conformance", "benchmarks": "vetgrad.benchmarks"}
PACKAGES = ["vetgrad.engine", "vetgrad.nn", "vetgrad.conformance", "vetgrad.benchmarks"]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if root == ROOT and parts[0] in INSTALLED:
        parts[:1] = INSTALLED[parts[0]].split(".")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _folder(module: str, root: Path) -> Path:
    """Where ``module`` lives in the repository (``vetgrad.engine.ops``: engine/ops)."""
    if root == ROOT:
        for folder, name in sorted(INSTALLED.items(), key=lambda kv: -len(kv[1])):
            if module == name or module.startswith(name + "."):
                return root.joinpath(folder, *module[len(name):].split(".")[1:])
    return root.joinpath(*module.split("."))


def imports_of(path: Path, package: str, root: Path = ROOT) -> set[str]:
    """The modules of ``package`` that ``path`` imports, anywhere in the file. ``from pkg import
    name`` is the submodule ``pkg.name`` when there is one, else ``pkg`` itself (its __init__)."""
    here = module_name(path, root)
    is_init = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package of this module
                anchor = here.split(".")
                anchor = anchor if is_init else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if _exists(sub, root) else base)
        else:
            continue
        for target in targets:
            if target == package or target.startswith(package + "."):
                while not _exists(target, root):  # "import engine.value.x": the module part
                    target = target.rpartition(".")[0]
                if target != here:
                    found.add(target)
    return found


def _exists(module: str, root: Path) -> bool:
    path = _folder(module, root)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    return {module_name(p, root): imports_of(p, package, root)
            for p in sorted(_folder(package, root).rglob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        todo = [iter(sorted(graph[start]))]
        state[start] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(sorted(graph.get(nxt, ()))))
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_package_has_no_import_cycle(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 1 and any(graph.values())  # (the checker does see this part's imports)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (pkg / "b.py").write_text("import os\nfrom pkg.c import g\n")
    (pkg / "c.py").write_text("def g():\n    import pkg.a\n")
    graph = import_graph("pkg", tmp_path)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("def g():\n    import os\n")
    assert find_cycle(import_graph("pkg", tmp_path)) is None


# part -> the parts it must never import (the engine has no dependencies; nn sits on the engine)
NEVER = {"vetgrad.engine": ("vetgrad.nn", "vetgrad.conformance", "vetgrad.benchmarks"),
         "vetgrad.nn": ("vetgrad.conformance", "vetgrad.benchmarks")}


@pytest.mark.parametrize(("part", "forbidden"), list(NEVER.items()))
def test_a_lower_part_never_imports_a_higher_one(part: str, forbidden: tuple[str, ...]) -> None:
    for other in forbidden:
        edges = {m: sorted(t) for m, t in
                 ((m, imports_of(p, other)) for m, p in _modules(part)) if t}
        assert not edges, f"{part} imports {other}: {edges}"


def _modules(part: str) -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted(_folder(part, ROOT).rglob("*.py"))]


@pytest.mark.parametrize("folder", sorted(INSTALLED))
def test_imports_between_the_parts_go_through_vetgrad(folder: str) -> None:
    bare = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bare.update({f"{path.relative_to(ROOT)}:{node.lineno}": n for n in names
                         if n.split(".")[0] in INSTALLED})
    assert not bare, f"imports by folder name (give vetgrad.<part>): {bare}"


def test_the_wheel_lists_every_package_of_the_repository() -> None:
    """pyproject.toml lists the packages explicitly (package-dir maps folders into vetgrad): a new
    sub-package missing from the list would be left out of the wheel, and only the installed
    tests would notice."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {module_name(init.parent / "__init__.py") for folder in INSTALLED
             for init in (ROOT / folder).rglob("__init__.py")}
    assert set(config["packages"]) == found
    assert {v: k for k, v in config["package-dir"].items()} == {f: n for f, n in INSTALLED.items()}
