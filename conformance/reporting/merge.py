"""``python -m vetgrad.conformance merge a.json b.json ... --json all.json``: shard reports into one.

Shards of one campaign (``--shard K/N`` with the same engine, seed, level, mode, graph size and
ops) check disjoint graphs, so their counts add up: the merged report is what one run over the
same graphs reports (per-op counts, the ladder, failing graphs), with the findings chosen from
all shards' findings the same way (lowest level first, every kind before a second of any).

The set of shards must be the whole campaign, each shard once: shards of different N, a shard
given twice or another campaign's report are refused (exit status 2), and so is a missing shard
unless ``--allow-partial``; a partial merge says so (``partial`` and ``missing_shards`` in the
JSON, the shards it holds and lacks in its summary line).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from vetgrad.conformance.dags.graph import Graph
from vetgrad.conformance.judging.levels import LEVELS, at_or_below
from vetgrad.conformance.judging.results import Finding, select_findings
from vetgrad.conformance.reporting.output import write_atomically

# Options that must agree between shards (the rest, e.g. --shard, --workers, --json, may differ).
SAME = ("engine", "seed", "strict", "level", "max_nodes", "ops", "higher_order", "device")


class MergeError(Exception):
    """The reports are not shards of one campaign (exit status 2)."""


def _finding(d: dict[str, Any]) -> Finding:
    return Finding(d["kind"], d["op"], d["node"], d["message"], Graph.from_json(d["graph"]),
                   d["device"], d["graph_index"], d.get("reproducer", ""), d["level"],
                   d.get("cause") or "")


def _check(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> list[tuple[int, int]]:
    """The reports' shards, once they are known to be shards of one campaign, each given once."""
    first = reports[0]
    for name, r in zip(names[1:], reports[1:]):
        if r.get("schema_version") != first.get("schema_version"):
            raise MergeError(f"{name}: schema_version {r.get('schema_version')} differs from "
                             f"{names[0]}'s {first.get('schema_version')}")
        for key in SAME:
            mine, theirs = r.get("options", {}).get(key), first.get("options", {}).get(key)
            if mine != theirs:
                raise MergeError(f"{name} is not a shard of the same campaign as {names[0]}: "
                                 f"--{key.replace('_', '-')} {mine!r} vs {theirs!r}")
    shards = _shards(reports, names)
    if len(set(shards)) != len(shards):
        twice = next(s for s in shards if shards.count(s) > 1)
        raise MergeError(f"shard {twice[0]}/{twice[1]} is given twice: its graphs would count twice")
    if any(r.get("interrupted") for r in reports):
        raise MergeError("an interrupted report covers only part of its shard; run it again")
    return shards


def _shards(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> list[tuple[int, int]]:
    """Each report's shard (K, N), all of one N; a merged report or shards cut with different N
    (whose graphs may overlap) are refused."""
    shards = []
    for name, r in zip(names, reports):
        if r.get("merged_from") is not None:
            raise MergeError(f"{name} is itself a merged report: merge the shards' own reports")
        k, n = r.get("shard", (1, 1))
        shards.append((int(k), int(n)))
    first = shards[0]
    for name, (k, n) in zip(names, shards):
        if n != first[1]:
            raise MergeError(f"{name} is shard {k}/{n} but {names[0]} is shard {first[0]}/{first[1]}: "
                             f"the shards of one campaign are cut with the same --shard K/N")
    return shards


def missing_shards(shards: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """The shards (K, N) of the campaign that ``shards`` (all of one N) do not hold."""
    n = shards[0][1]
    held = {k for k, _ in shards}
    return [(k, n) for k in range(1, n + 1) if k not in held]


def _shard_list(shards: Sequence[Sequence[int]]) -> str:
    return ", ".join(f"{k}/{n}" for k, n in shards)


def describe(merged: dict[str, Any]) -> str:
    """What a merged report holds, for its summary line: ``2 reports (shards 1/2, 2/2)``, or
    ``2 reports, partial: shards 1/4, 3/4 of 4 (missing 2/4, 4/4)``."""
    held = merged["merged_from"]
    missing = merged.get("missing_shards") or []
    if not missing:
        return f"{len(held)} report{'s' if len(held) != 1 else ''} (shards {_shard_list(held)})"
    return (f"{len(held)} report{'s' if len(held) != 1 else ''}, partial: shards "
            f"{_shard_list(held)} of {held[0][1]} (missing {_shard_list(missing)})")


def merge(reports: Sequence[dict[str, Any]], names: Sequence[str] | None = None,
          max_findings: int | None = None, allow_partial: bool = False) -> dict[str, Any]:
    """One report from shard reports (JSON dicts as ``--json`` writes them): every shard of one
    campaign, each once; with ``allow_partial`` some may be missing (the report says which)."""
    if not reports:
        raise MergeError("no reports to merge")
    names = list(names or [f"report {i + 1}" for i in range(len(reports))])
    missing = missing_shards(_check(reports, names))
    if missing and not allow_partial:
        n = missing[0][1]
        raise MergeError(f"missing shard{'s' if len(missing) > 1 else ''} {_shard_list(missing)} "
                         f"of {n}: pass --allow-partial to merge what you have")
    out = json.loads(json.dumps(reports[0]))  # a deep copy, with every field of the first
    for key in ("graphs", "passed", "failed", "imprecise_graphs"):
        out[key] = sum(r.get(key, 0) for r in reports)
    out["elapsed_seconds"] = max(r.get("elapsed_seconds", 0.0) for r in reports)
    out["devices"] = sorted({d for r in reports for d in r.get("devices", [])})
    out["shard"] = None
    out["merged_from"] = [list(r.get("shard", (1, 1))) for r in reports]
    out["partial"] = bool(missing)
    out["missing_shards"] = [list(s) for s in missing]
    out["failing_graphs_by_first_finding"] = _sum_counts(
        [r.get("failing_graphs_by_first_finding", {}) for r in reports])
    for kind in ("random_graphs", "edge_sweep_graphs"):  # absent from reports written before them
        if all(kind in r for r in reports):
            out[kind] = _merge_kind([r[kind] for r in reports])
    if all("not_asked" in r for r in reports):
        out["not_asked"] = {k: v for r in reports for k, v in r["not_asked"].items()}
    out["levels"] = _merge_levels([r["levels"] for r in reports])
    out["per_op"] = _merge_per_op(reports, out)
    limit = max_findings or out.get("options", {}).get("max_findings") or 20
    findings = [_finding(f) for r in reports for f in r.get("findings", [])]
    out["findings"] = [f.to_json() for f in select_findings(findings, limit)]
    return out


def _sum_counts(dicts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, n in d.items():
            total[k] = total.get(k, 0) + n
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def _merge_kind(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The counts of one kind of graph (random, edge sweep): summed, per level too."""
    out: dict[str, Any] = {key: sum(p[key] for p in parts) for key in ("graphs", "passed", "failed")}
    if all("failed_by_level" in p for p in parts):
        out["failed_by_level"] = {lv: sum(p["failed_by_level"].get(lv, 0) for p in parts)
                                  for lv in LEVELS}
    return out


def _merge_levels(levels: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for lv in LEVELS:
        parts = [d[lv] for d in levels if lv in d]
        causes: dict[str, dict[str, int]] = {}
        for part in parts:
            for c in part["causes"]:
                by_op = causes.setdefault(c["cause"], {})
                for op, n in c["graphs_by_op"].items():
                    by_op[op] = by_op.get(op, 0) + n
        failed = sum(p["failed_graphs"] for p in parts)
        merged[lv] = {
            "passed": failed == 0, "failed_graphs": failed,
            "failing_ops": sorted({op for by_op in causes.values() for op in by_op}),
            "causes": [{"cause": c, "graphs_by_op": by_op} for c, by_op in
                       sorted(causes.items(), key=lambda kv: -sum(kv[1].values()))],
        }
    return merged


def _merge_per_op(reports: Sequence[dict[str, Any]], out: dict[str, Any]) -> dict[str, Any]:
    level = out.get("level", "math")
    failing = {op for lv, d in out["levels"].items() if at_or_below(lv, level)
               for op in d["failing_ops"]}
    per_op: dict[str, Any] = {}
    for r in reports:
        for name, st in r["per_op"].items():
            mine = per_op.setdefault(name, {})
            for key, value in st.items():
                if key == "status":
                    continue
                if isinstance(value, str):  # class_example: the first shard's that has one
                    mine[key] = mine.get(key) or value
                    continue
                mine[key] = max(mine.get(key, 0.0), value) if key == "worst_ulps" \
                    else mine.get(key, 0) + value
    for name, mine in per_op.items():
        statuses = {r["per_op"][name]["status"] for r in reports if name in r["per_op"]}
        if statuses == {"unsupported"}:
            mine["status"] = "unsupported"
        elif name in failing:
            mine["status"] = "fail"
        else:
            mine["status"] = "imprecise" if mine.get("imprecise") else "ok"
    return per_op


def _write(data: dict[str, Any], path: str) -> None:
    if path == "-":
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    write_atomically(path, json.dumps(data, indent=1))


def main(argv: Sequence[str], prog: str = "python -m vetgrad.conformance merge") -> int:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Merge the --json reports of the shards of one campaign (--shard K/N) into\n"
                    "one report. Every shard, 1/N to N/N, must be given, each once; with\n"
                    "--allow-partial, shards may be missing and the report says which.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reports", nargs="+", metavar="REPORT.json")
    p.add_argument("--json", required=True, metavar="PATH", help="where to write the merged report ('-': stdout)")
    p.add_argument("--max-findings", type=int, default=None, metavar="N",
                   help="findings kept (default: the shards' --max-findings)")
    p.add_argument("--allow-partial", action="store_true",
                   help="merge even when shards are missing; the merged report says it is partial "
                        "and which shards it holds")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        reports = []
        for path in args.reports:
            with open(path) as fh:
                reports.append(json.load(fh))
        merged = merge(reports, args.reports, args.max_findings, args.allow_partial)
        _write(merged, args.json)
    except (OSError, ValueError, KeyError, TypeError, MergeError) as exc:
        print(f"error: {type(exc).__name__}: {exc}" if not isinstance(exc, MergeError)
              else f"error: {exc}", file=sys.stderr)
        return 2
    failed = merged["failed"]
    kinds = ""
    if "random_graphs" in merged and "edge_sweep_graphs" in merged:
        kinds = (f"; {merged['random_graphs']['graphs']} random graphs + "
                 f"{merged['edge_sweep_graphs']['graphs']} edge-sweep graphs")
    print(f"merged {describe(merged)}{kinds}: {merged['passed']} passed, {failed} failed",
          file=sys.stderr if args.json == "-" else sys.stdout)
    return 1 if failed else 0
