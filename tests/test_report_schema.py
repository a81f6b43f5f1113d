"""The JSON report follows the JSON Schema shipped in the package (conformance/report.schema.json)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")
jsonschema = pytest.importorskip("jsonschema", reason="the schema test needs jsonschema")

import mutant_engines as M  # noqa: E402, N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad.conformance.run.cli import SCHEMA_VERSION, main  # noqa: E402

pytestmark = pytest.mark.torch
SCHEMA = json.loads(resources.files("vetgrad.conformance").joinpath("report.schema.json").read_text())


def _report(tmp_path: Path, *args: str) -> dict:
    path = tmp_path / "report.json"
    main([*args, "--graphs", "20", "--device", "cpu", "--json", str(path), "--show", "0"])
    return json.loads(path.read_text())


@pytest.mark.parametrize("engine", ["vetgrad.engine:Value", "mutant", "micrograd.engine:Value"])
@pytest.mark.slow
def test_report_follows_the_schema(tmp_path: Path, engine: str) -> None:
    spec = M.spec("tanh_grad_1_minus_t") if engine == "mutant" else engine
    # micrograd lacks tanh: asked for by --ops that is a usage error (nothing checked is no pass)
    ops = [] if engine.startswith("micrograd") else ["--ops", "tanh,mul,add,relu"]
    data = _report(tmp_path, "--engine", spec, *ops)
    jsonschema.validate(data, SCHEMA)
    assert data["schema_version"] == SCHEMA_VERSION == SCHEMA["properties"]["schema_version"]["const"]
    assert data["options"]["engine"] == spec and data["engine_module"] == spec.partition(":")[0]
    kinds = data["random_graphs"], data["edge_sweep_graphs"]  # added to version 1: graphs is both
    assert kinds[0]["graphs"] == 20 and sum(k["graphs"] for k in kinds) == data["graphs"]
    assert sum(k["failed"] for k in kinds) == data["failed"]
    if engine == "mutant":
        assert data["findings"] and data["per_op"]["tanh"]["status"] == "fail"
    if engine.startswith("micrograd"):
        assert data["engine_version"] == "0.1.0" and data["per_op"]["tanh"]["status"] == "unsupported"
        assert data["tested"]["ops"] == len(data["tested"]["forms_by_op"]) > 0
        assert "pow" in data["tested"]["forms_by_op"] and "nn" not in data["tested"]["forms_by_op"]["pow"]


@pytest.mark.slow
def test_the_fields_scripts_read_keep_their_names(tmp_path: Path) -> None:
    """Version 1's fields, as scripts written against earlier reports read them."""
    data = _report(tmp_path, "--engine", M.spec("tanh_grad_1_minus_t"), "--ops", "tanh,add")
    assert {"passed", "failed", "per_op", "findings", "engine", "seed", "graphs"} <= set(data)
    assert {"cases", "passed", "failed", "status"} <= set(data["per_op"]["tanh"])
    assert {"kind", "op", "message", "graph", "reproducer"} <= set(data["findings"][0])


@pytest.mark.parametrize("extra", [[], ["--allow-partial"]])
def test_a_merged_report_follows_the_schema(tmp_path: Path, extra: list[str]) -> None:
    """merge writes shard null, merged_from, partial and missing_shards (whole or --allow-partial)."""
    data = _report(tmp_path, "--ops", "tanh", "--shard", "1/2")
    paths = [tmp_path / "s1.json", tmp_path / "s2.json"]
    paths[0].write_text(json.dumps(data))
    paths[1].write_text(json.dumps({**data, "shard": [2, 2]}))
    merged = tmp_path / "merged.json"
    assert main(["merge", *map(str, paths[:2 - len(extra)]), "--json", str(merged), *extra]) == 0
    out = json.loads(merged.read_text())
    jsonschema.validate(out, SCHEMA)
    assert out["shard"] is None and out["partial"] is bool(extra)
    assert out["missing_shards"] == ([[2, 2]] if extra else [])


def test_a_report_that_breaks_the_schema_is_refused() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "per_op": {"tanh": {"status": "great"}}}, SCHEMA)


@pytest.mark.parametrize(("field", "broken"), [
    ("edge_sweep_graphs", {"graphs": 4, "passed": 4}),  # a count missing
    ("random_graphs", {"graphs": -1, "passed": 0, "failed": 0}),
    ("random_graphs", {"graphs": 1, "passed": 1, "failed": 0, "failed_by_level": {"bogus": 0}}),
    ("not_asked", {"add": 3}),
])
@pytest.mark.slow
def test_the_added_counts_are_checked_too(tmp_path: Path, field: str, broken: dict) -> None:
    data = _report(tmp_path, "--ops", "tanh")
    jsonschema.validate(data, SCHEMA)
    data[field] = broken
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
