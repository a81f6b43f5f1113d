"""``python -m vetgrad.conformance merge``: shard reports add up to what one run over the same graphs reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad.conformance.run.cli import main

pytestmark = pytest.mark.torch
COMMON = ["--device", "cpu", "--ops", "tanh,mul,add,relu", "--max-nodes", "10", "--show", "0",
          "--max-findings", "50", "--no-shrink"]


def _run(tmp_path: Path, name: str, *args: str) -> tuple[int, dict]:
    path = tmp_path / f"{name}.json"
    status = main([*args, *COMMON, "--json", str(path)])
    return status, json.loads(path.read_text())


@pytest.mark.slow
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
@pytest.mark.slow
def test_reports_of_different_campaigns_are_refused(tmp_path: Path, second: list[str], says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, "a", "--graphs", "5", "--shard", "1/2")
    _run(tmp_path, "b", "--graphs", "5", *second)
    capsys.readouterr()
    status = main(["merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json",
                   str(tmp_path / "m.json")])
    assert status == 2 and says in capsys.readouterr().err and not (tmp_path / "m.json").exists()


@pytest.fixture(scope="module")
def shard_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One real shard report, relabelled below as the other shards of its campaign."""
    path = tmp_path_factory.mktemp("shard") / "s.json"
    main(["--graphs", "4", "--shard", "1/4", *COMMON, "--json", str(path)])
    return json.loads(path.read_text())


def _as(base: dict, shard: str, **options: object) -> dict:
    """``base`` as the report of shard K/N, with these options changed."""
    k, n = (int(p) for p in shard.split("/"))
    return {**base, "shard": [k, n], "options": {**base["options"], "shard": [k, n], **options}}


# the reports given (shard K/N, or (K/N, options changed), or "merged": a merged report), extra
# merge arguments -> exit status, what stdout (status 0) or stderr says
MERGES = [
    (["1/1"], [], 0, "merged 1 report (shards 1/1)"),
    (["1/2", "2/2"], [], 0, "merged 2 reports (shards 1/2, 2/2)"),
    (["2/2", "1/2"], [], 0, "merged 2 reports (shards 2/2, 1/2)"),
    (["1/2"], [], 2, "error: missing shard 2/2 of 2: pass --allow-partial to merge what you have"),
    (["1/4", "3/4"], [], 2, "error: missing shards 2/4, 4/4 of 4: pass --allow-partial to merge what you have"),
    (["1/4", "3/4"], ["--allow-partial"], 0, "merged 2 reports, partial: shards 1/4, 3/4 of 4 (missing 2/4, 4/4)"),
    (["2/2"], ["--allow-partial"], 0, "merged 1 report, partial: shards 2/2 of 2 (missing 1/2)"),
    (["1/2", "2/2"], ["--allow-partial"], 0, "merged 2 reports (shards 1/2, 2/2)"),
    (["1/2", "1/2", "2/2"], [], 2, "error: shard 1/2 is given twice"),
    (["1/2", "1/2"], ["--allow-partial"], 2, "error: shard 1/2 is given twice"),
    (["1/2", "2/4", "4/4"], [], 2, "is shard 2/4 but"),
    (["1/2", "2/4"], ["--allow-partial"], 2, "the same --shard K/N"),
    (["1/2", ("2/2", {"seed": 7})], ["--allow-partial"], 2, "--seed 7 vs 0"),
    (["1/2", ("2/2", {"engine": "micrograd.engine:Value"})], [], 2, "--engine 'micrograd.engine:Value' vs"),
    (["1/2", ("2/2", {"strict": True})], [], 2, "--strict True vs False"),
    (["1/2", ("2/2", {"ops": "tanh"})], [], 2, "--ops 'tanh' vs"),
    (["1/2", ("2/2", {"level": "torch"})], [], 2, "--level 'torch' vs 'math'"),
    (["1/2", "merged"], ["--allow-partial"], 2, "is itself a merged report"),
]


@pytest.mark.parametrize(("shards", "extra", "status", "says"), MERGES)
def test_merge_takes_every_shard_of_one_campaign_once(
        tmp_path: Path, shard_report: dict, shards: list, extra: list[str], status: int,
        says: str, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for i, given in enumerate(shards):
        shard, changes = given if isinstance(given, tuple) else (given, {})
        if shard == "merged":
            report = {**_as(shard_report, "2/2"), "shard": None, "merged_from": [[2, 2]]}
        else:
            report = _as(shard_report, shard, **changes)
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(report))
    out = tmp_path / "m.json"
    capsys.readouterr()
    assert main(["merge", *map(str, paths), "--json", str(out), *extra]) == status
    said = capsys.readouterr()
    assert says in (said.out if status == 0 else said.err), said
    if status == 2:
        assert not out.exists()
        return
    merged = json.loads(out.read_text())
    held = [[int(x) for x in given.split("/")] for given in shards]
    n = held[0][1]
    missing = [[k, n] for k in range(1, n + 1) if [k, n] not in held]
    assert merged["merged_from"] == held and merged["shard"] is None
    assert merged["partial"] is bool(missing) and merged["missing_shards"] == missing
    assert merged["graphs"] == len(shards) * shard_report["graphs"]


def test_merge_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(tmp_path / "nope.json"), "--json", str(tmp_path / "m.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
