"""``python -m vetgrad.conformance merge``: shard reports add up to what one run over the same graphs reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad.conformance.cli import main

pytestmark = pytest.mark.torch
COMMON = ["--device", "cpu", "--ops", "tanh,mul,add,relu", "--max-nodes", "10", "--show", "0",
          "--max-findings", "50", "--no-shrink"]


def _run(tmp_path: Path, name: str, *args: str) -> tuple[int, dict]:
    path = tmp_path / f"{name}.json"
    status = main([*args, *COMMON, "--json", str(path)])
    return status, json.loads(path.read_text())


def test_two_shards_merge_into_the_single_run(tmp_path: Path) -> None:
    spec = M.spec("tanh_grad_1_minus_t")
    _, whole = _run(tmp_path, "whole", "--engine", spec, "--graphs", "60")
    for k in (1, 2):
        _run(tmp_path, f"s{k}", "--engine", spec, "--graphs", "30", "--shard", f"{k}/2")
    out = tmp_path / "merged.json"
    status = main(["merge", str(tmp_path / "s1.json"), str(tmp_path / "s2.json"), "--json", str(out)])
    merged = json.loads(out.read_text())
    assert status == 1 and merged["merged_from"] == [[1, 2], [2, 2]]
    for key in ("graphs", "passed", "failed", "levels", "per_op", "failing_graphs_by_first_finding"):
        assert merged[key] == whole[key], key
    assert sorted(f["graph_index"] for f in merged["findings"]) == \
        sorted(f["graph_index"] for f in whole["findings"])


@pytest.mark.parametrize(("second", "says"), [
    (["--seed", "7", "--shard", "2/2"], "--seed 7 vs 0"),
    (["--shard", "1/2"], "shard 1/2 is given twice"),
])
def test_reports_of_different_campaigns_are_refused(tmp_path: Path, second: list[str], says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, "a", "--graphs", "5", "--shard", "1/2")
    _run(tmp_path, "b", "--graphs", "5", *second)
    capsys.readouterr()
    status = main(["merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json",
                   str(tmp_path / "m.json")])
    assert status == 2 and says in capsys.readouterr().err and not (tmp_path / "m.json").exists()


def test_merge_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(tmp_path / "nope.json"), "--json", str(tmp_path / "m.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
