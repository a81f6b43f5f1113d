"""conformance/'s layers: each sub-package imports only the layers below it (the table), checked on
the AST import graph of every module (function-level imports included, tests/test_imports.py's
helper). The engine's process loads only ``subject`` (and ``dags``): nothing the engine under
test can reach judges it or holds the reference. docs/architecture.md shows the same table."""

from __future__ import annotations

import pytest

from tests.test_imports import import_graph

PKG = "vetgrad.conformance"

# layer -> the layers it may import; "base" is conformance/'s own top-level modules that import
# nothing of the harness (interrupt). Lowest first.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "dags": {"base"},
    "subject": {"base", "dags"},
    "reference": {"base", "dags"},
    "judging": {"base", "dags", "subject", "reference"},
    "reporting": {"base", "dags", "subject", "reference", "judging"},
    "mlp": {"base", "dags", "subject", "reference", "judging", "reporting"},
    "run": {"base", "dags", "subject", "reference", "judging", "reporting", "mlp"},
    "entry": {"run"},  # the thin modules where users name the entry points (cli, pytest_plugin)
}
ENTRY = {"cli", "pytest_plugin", "__main__"}

# edges that go against the table, each with the reason it is still there (remove once fixed)
EXCEPTIONS = {
    # the generator keeps its ordinary draws inside the ladder's math level (one predicate)
    (f"{PKG}.dags.generate", f"{PKG}.judging.levels"),
}


def layer(module: str) -> str:
    rest = module[len(PKG):].lstrip(".").split(".")
    if rest == [""]:
        return "entry"  # the lazy __init__ (imports by name, on first use)
    if len(rest) == 1 and rest[0] not in ALLOWED:  # a module at the top (a package: its layer)
        return "entry" if rest[0] in ENTRY else "base"
    return rest[0]


def test_every_module_is_in_a_layer_of_the_table() -> None:
    assert {layer(m) for m in import_graph(PKG)} <= set(ALLOWED)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = sorted((m, t) for m, targets in import_graph(PKG).items() for t in targets
                   if layer(t) != layer(m) and layer(t) not in ALLOWED[layer(m)]
                   and (m, t) not in EXCEPTIONS)
    assert not wrong, "imports against the layer table: " + ", ".join(f"{m} -> {t}" for m, t in wrong)


def test_the_exceptions_are_still_needed() -> None:
    graph = import_graph(PKG)
    assert all(t in graph[m] for m, t in EXCEPTIONS), "an exception is gone: remove it from the table"


@pytest.mark.parametrize("start", [f"{PKG}.subject.server", f"{PKG}.subject.execute"])
def test_the_engine_side_never_reaches_judging_or_the_reference(start: str) -> None:
    """What the engine's process loads (its server, and what the server imports, transitively)."""
    graph = import_graph(PKG)
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    assert {layer(m) for m in seen} <= {"base", "dags", "subject"}, sorted(seen)
