"""Run the conformance harness (``--level math``) and micrograd's own tests on every mechanical
mutant of a lecture-style engine, and tabulate what each catches.

``python -m tests.mutation.run [--graphs N] [--seed S] [--jobs 2] [--json out.json]``

Each mutant (tests/mutation/mutate.py) is written to a temporary folder and checked with
``python -m vetgrad.conformance --engine FILE:Value --level math --graphs N --seed S --json REPORT
--no-edge-sweep`` under a per-mutant timeout. Its verdict:

- ``caught``: exit 1 with a finding at math;
- ``survived``: exit 0;
- ``usage``: exit 2 that says why (the mutant no longer loads, its constructor broke, ...): counted
  as caught; ``error``: anything else (exit 2 or 1 without a report and a reason, a harness
  traceback); ``timeout``: the harness ran past ``--timeout``;
- ``equivalent``: marked so statically by the mutator, or listed in tests/mutation/EQUIVALENT.md
  (then still run, and reported as ``equivalent`` only if it survives); ``duplicate``: the same
  source as an earlier mutant (its verdict is that mutant's).

For each caught mutant: whether the report's first finding (``findings[0].op``) names the op the
mutation is in (the enclosing method: ``__mul__`` -> mul, ``backward``/``build_topo`` -> graph).
The unmutated engine is checked first as the *baseline*: when it has findings at math itself (the
harness's imperfections of the day), a mutant is also judged on what is new against it: its
"new" first finding is the first math finding whose (cause, op) the baseline does not have, and
``caught beyond the baseline`` needs such a finding (or more failing graphs of one of the
baseline's causes). Beside it: which of micrograd's three tests against torch
(tests/mutation/micrograd_tests.py) fail on the mutant, run in this process with a timeout each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.mutation import mutate

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT_MD = Path(__file__).with_name("EQUIVALENT.md")


def listed_equivalents(path: Path = EQUIVALENT_MD) -> dict[str, str]:
    """Mutant id -> reason, from lines ``- `ID`: reason`` of EQUIVALENT.md."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*[-*]\s+`([^`]+)`\s*[:\u2014-]\s*(.*)", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


@dataclass
class Harness:
    """What one run of the harness on one engine file said."""

    exit: int | None            # None: timed out
    seconds: float
    report: dict[str, Any] | None
    reason: str = ""            # the last line of its output, for exit 2 and errors

    @property
    def math_causes(self) -> dict[tuple[str, str], int]:
        """(cause, op) -> failing graphs at math."""
        out: dict[tuple[str, str], int] = {}
        if self.report:
            for cause in self.report.get("levels", {}).get("math", {}).get("causes", []):
                for op, n in cause.get("graphs_by_op", {}).items():
                    out[(cause["cause"], op)] = n
        return out

    def math_findings(self) -> list[dict[str, Any]]:
        return [f for f in (self.report or {}).get("findings", []) if f.get("level") == "math"]


def run_harness(engine: Path, report: Path, args: argparse.Namespace) -> Harness:
    command = [sys.executable, "-m", "vetgrad.conformance", "--engine", f"{engine}:Value", "--level", "math",
               "--graphs", str(args.graphs), "--seed", str(args.seed), "--json", str(report),
               "--no-edge-sweep", "--graph-timeout", str(args.graph_timeout), "--max-hangs", "1",
               *args.harness_args.split()]
    start = time.monotonic()
    env = dict(os.environ, VETGRAD_PROGRESS_INTERVAL="3600")
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        return Harness(None, time.monotonic() - start, None, f"no verdict within {args.timeout} s")
    seconds = time.monotonic() - start
    data = None
    if report.exists():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except ValueError:
            data = None
    output = (proc.stderr + "\n" + proc.stdout).strip()
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if "Traceback (most recent call last)" in output:
        reason = "harness traceback: " + (lines[-1] if lines else "")
    else:
        reason = next((ln for ln in lines if "usage error" in ln.lower() or "error:" in ln.lower()),
                      lines[-1] if lines else "")
    return Harness(proc.returncode, seconds, data, reason[:300])


class _TimeoutError(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TimeoutError


def micrograd_failures(source: str, name: str, seconds: int) -> dict[str, str]:
    """Which of micrograd's tests fail on the engine ``source`` (name -> why)."""
    from tests.mutation import micrograd_tests

    module = types.ModuleType(f"_vetgrad_mutant_{name}")
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        signal.alarm(seconds)
        try:
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
            value = module.Value
        except _TimeoutError:
            return dict.fromkeys(micrograd_tests.CHECKS, f"import: no end within {seconds} s")
        except BaseException as exc:
            return dict.fromkeys(micrograd_tests.CHECKS, f"import: {type(exc).__name__}: {exc}"[:200])
        failed = {}
        for test, check in micrograd_tests.CHECKS.items():
            signal.alarm(seconds)
            try:
                check(value)
            except _TimeoutError:
                failed[test] = f"no end within {seconds} s"
            except Exception as exc:
                failed[test] = f"{type(exc).__name__}: {exc}"[:200]
        return failed
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Row:
    index: int
    mutant: mutate.Mutant
    status: str = ""
    exit: int | None = None
    seconds: float = 0.0
    first: dict[str, Any] = field(default_factory=dict)       # findings[0]: level, kind, op, cause
    first_new: dict[str, Any] = field(default_factory=dict)   # the first math finding the baseline lacks
    beyond_baseline: bool = False
    reason: str = ""
    micrograd: dict[str, str] = field(default_factory=dict)
    equivalent: str = ""

    @property
    def caught(self) -> bool:
        return self.status in ("caught", "usage")

    def names_op(self, new: bool = False) -> bool | None:
        first = self.first_new if new else self.first
        if not self.caught or not first:
            return None
        return first.get("op") == self.mutant.op

    def to_json(self) -> dict[str, Any]:
        m = self.mutant
        return {"index": self.index, "id": m.id, "kind": m.kind, "op": m.op, "line": m.line,
                "description": m.description, "status": self.status, "exit": self.exit,
                "seconds": round(self.seconds, 2), "first_finding": self.first,
                "names_op": self.names_op(), "first_new_finding": self.first_new,
                "names_op_new": self.names_op(True), "caught_beyond_baseline": self.beyond_baseline,
                "reason": self.reason, "micrograd_failures": self.micrograd,
                "equivalent": self.equivalent or m.equivalent, "duplicate_of": m.duplicate_of}


def _brief(finding: dict[str, Any]) -> dict[str, Any]:
    return {"level": finding.get("level"), "kind": finding.get("kind"), "op": finding.get("op"),
            "cause": finding.get("cause") or "", "message": (finding.get("message") or "")[:200],
            "graph_index": finding.get("graph_index")}


def judge(row: Row, result: Harness, baseline: Harness) -> None:
    row.exit, row.seconds, row.reason = result.exit, result.seconds, result.reason
    findings = result.math_findings()
    if result.exit is None:
        row.status = "timeout"
    elif result.exit == 0:
        row.status = "survived"
    elif result.exit == 1 and findings:
        row.status = "caught"
    elif result.exit == 2 and row.reason and not row.reason.startswith("harness traceback"):
        row.status = "usage"
    else:
        row.status = "error"
    if findings:
        row.first = _brief(findings[0])
        known = {(c, op) for c, op in baseline.math_causes}
        new = next((f for f in findings if ((f.get("cause") or ""), f.get("op")) not in known), None)
        row.first_new = _brief(new) if new else {}
    base = baseline.math_causes
    mine = result.math_causes
    row.beyond_baseline = row.status == "usage" or (row.status == "caught" and (
        bool(row.first_new) or any(n > base.get(key, 0) for key, n in mine.items())))
    if row.status == "survived" and row.mutant.equivalent:
        row.status = "equivalent"


def summary(rows: list[Row], baseline: Harness) -> dict[str, Any]:
    live = [r for r in rows if r.status not in ("equivalent", "duplicate")]
    caught = [r for r in live if r.caught]
    named = [r for r in caught if r.names_op()]
    named_new = [r for r in caught if r.first_new and r.names_op(True)]
    with_new = [r for r in caught if r.first_new]
    micrograd = [r for r in live if r.micrograd]
    per_test: dict[str, int] = {}
    for r in live:
        for test in r.micrograd:
            per_test[test] = per_test.get(test, 0) + 1
    return {
        "mutants": len(rows),
        "equivalent": sum(r.status == "equivalent" for r in rows),
        "duplicates": sum(r.status == "duplicate" for r in rows),
        "judged": len(live),
        "caught": len(caught),
        "caught_by_usage_error": sum(r.status == "usage" for r in live),
        "caught_beyond_baseline": sum(r.beyond_baseline for r in live),
        "survived": sum(r.status == "survived" for r in live),
        "timeout": sum(r.status == "timeout" for r in live),
        "error": sum(r.status == "error" for r in live),
        "first_finding_names_op": len(named),
        "first_finding_names_op_pct": round(100.0 * len(named) / len(caught), 1) if caught else None,
        "first_new_finding_names_op": len(named_new),
        "first_new_finding_names_op_pct": round(100.0 * len(named_new) / len(with_new), 1) if with_new else None,
        "micrograd_tests_catch": len(micrograd),
        "micrograd_tests_catch_by_test": per_test,
        "caught_by_harness_not_micrograd": sum(r.caught and not r.micrograd for r in live),
        "caught_by_micrograd_not_harness": sum(bool(r.micrograd) and not r.caught for r in live),
        "baseline_exit": baseline.exit,
        "baseline_math_causes": [f"{op}: {cause} ({n} graphs)" for (cause, op), n in baseline.math_causes.items()],
    }


def _mark(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "NO"


def table(rows: list[Row]) -> str:
    lines = [f"{'#':>4} {'status':<10} {'first':<6} {'new':<6} {'names':<5} {'new':<5} {'mg':<3} description"]
    for r in rows:
        first = r.first.get("op", "") if r.first else ""
        new = r.first_new.get("op", "") if r.first_new else ""
        lines.append(f"m{r.index:03d} {r.status:<10} {first:<6} {new:<6} {_mark(r.names_op()):<5} "
                     f"{_mark(r.names_op(True) if r.first_new else None):<5} {len(r.micrograd):<3} "
                     f"{r.mutant.description}")
    return "\n".join(lines)


def show(rows: list[Row], result: dict[str, Any]) -> None:
    """Print the table, the summary, the survivors and the misattributed mutants."""
    print(table(rows))
    print()
    for key, value in result.items():
        print(f"{key}: {value}")
    survivors = [r for r in rows if r.status in ("survived", "timeout", "error")]
    if survivors:
        print("\nsurvivors (not caught, not listed as equivalent):")
        for r in survivors:
            print(f"  m{r.index:03d} {r.mutant.id}  {r.mutant.description}  [{r.status}] {r.reason[:120]}")
    wrong = [r for r in rows if r.caught and r.names_op() is False]
    if wrong:
        print("\nfirst finding names another op:")
        for r in wrong:
            new = f"; first new finding: {r.first_new.get('op')}" if r.first_new else ""
            print(f"  m{r.index:03d} {r.mutant.op or '?'} -> {r.first.get('op')} ({r.first.get('cause') or r.first.get('kind')})"
                  f"{new}  {r.mutant.description}")


def retable(path: Path) -> int:
    """The table and summary of an earlier run's JSON, with EQUIVALENT.md as it is now."""
    data = json.loads(path.read_text(encoding="utf-8"))
    source = Path(data["source"]).read_text(encoding="utf-8")
    by_id = {m.id: m for m in mutate.mutants(source)}
    listed = listed_equivalents()
    rows = []
    for item in data["mutants"]:
        row = Row(item["index"], by_id[item["id"]], status=item["status"], exit=item["exit"],
                  seconds=item["seconds"], first=item["first_finding"], first_new=item["first_new_finding"],
                  beyond_baseline=item["caught_beyond_baseline"], reason=item["reason"],
                  micrograd=item["micrograd_failures"], equivalent=item["equivalent"] or listed.get(item["id"], ""))
        if row.status == "survived" and row.equivalent:
            row.status = "equivalent"
        rows.append(row)
    base = data["baseline"]
    result = summary(rows, Harness(base["exit"], base["seconds"], None))
    result["baseline_math_causes"] = data["summary"]["baseline_math_causes"]
    result["seconds"] = data["summary"].get("seconds")
    show(rows, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutation.run",
        description="The harness (--level math) and micrograd's tests on every mutant of a lecture-style engine.")
    parser.add_argument("--source", default=str(mutate.LECTURE), help="the engine (default: the lecture engine)")
    parser.add_argument("--graphs", type=int, default=300, help="random graphs per mutant (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="the harness's seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="harness runs at once (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per mutant (default 180)")
    parser.add_argument("--graph-timeout", type=float, default=10.0,
                        help="the harness's --graph-timeout (default 10; it stops after one hanging graph)")
    parser.add_argument("--harness-args", default="",
                        help="more options for the harness, e.g. '--no-shrink --max-findings 5' (faster)")
    parser.add_argument("--kinds", default=",".join(mutate.KINDS), help="kinds of mutation (default: all)")
    parser.add_argument("--only", default="",
                        help="mutants to run, comma-separated: indices (m012 or 12) or the start of ids")
    parser.add_argument("--micrograd-timeout", type=int, default=5, help="seconds per micrograd test (default 5)")
    parser.add_argument("--keep", metavar="DIR", help="keep the mutants' files and reports in DIR")
    parser.add_argument("--json", metavar="PATH", help="write every row and the summary as JSON")
    parser.add_argument("--retable", metavar="PATH",
                        help="run nothing: print the table and summary of an earlier --json PATH again, "
                             "with tests/mutation/EQUIVALENT.md as it is now")
    args = parser.parse_args(argv)
    if args.retable:
        return retable(Path(args.retable))

    source = Path(args.source).read_text(encoding="utf-8")
    found = mutate.mutants(source, tuple(k for k in args.kinds.split(",") if k))
    rows = [Row(i, m) for i, m in enumerate(found)]
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]

        def picked(r: Row) -> bool:
            return any((w.lstrip("m").isdigit() and int(w.lstrip("m")) == r.index) or
                       (not w.lstrip("m").isdigit() and r.mutant.id.startswith(w)) for w in wanted)
        rows = [r for r in rows if picked(r)]
    if not rows:
        print("no mutants selected", file=sys.stderr)
        return 2
    listed = listed_equivalents()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vetgrad-mutants-"))
    folder.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    original = folder / "original.py"
    original.write_text(source, encoding="utf-8")
    baseline = run_harness(original, folder / "original.json", args)
    print(f"baseline (the unmutated engine): exit {baseline.exit} in {baseline.seconds:.1f} s; "
          f"math causes: {summary([], baseline)['baseline_math_causes'] or 'none'}", file=sys.stderr)
    if baseline.exit not in (0, 1) or (baseline.exit == 1 and not baseline.math_findings()):
        print(f"the harness gives no verdict on the unmutated engine: {baseline.reason}", file=sys.stderr)
        return 2

    to_run = []
    by_id = {r.mutant.id: r for r in rows}
    for r in rows:
        r.equivalent = r.mutant.equivalent or listed.get(r.mutant.id, "")
        if r.mutant.duplicate_of:
            r.status = "duplicate"
            continue
        if r.mutant.equivalent:  # statically equivalent: nothing to run
            r.status = "equivalent"
            continue
        r.micrograd = micrograd_failures(r.mutant.source, f"m{r.index:03d}", args.micrograd_timeout)
        to_run.append(r)

    def one(r: Row) -> Row:
        path = folder / f"m{r.index:03d}.py"
        path.write_text(r.mutant.source, encoding="utf-8")
        judge(r, run_harness(path, folder / f"m{r.index:03d}.json", args), baseline)
        if r.status == "survived" and r.equivalent:
            r.status = "equivalent"
        print(f"m{r.index:03d} {r.status:<9} {r.seconds:5.1f} s  {r.mutant.description}", file=sys.stderr)
        return r

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, to_run))
    for r in rows:
        if r.status == "duplicate" and r.mutant.duplicate_of in by_id:
            twin = by_id[r.mutant.duplicate_of]
            r.first, r.first_new, r.micrograd = twin.first, twin.first_new, twin.micrograd

    result = summary(rows, baseline)
    result["seconds"] = round(time.monotonic() - start, 1)
    show(rows, result)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"source": args.source, "options": vars(args), "summary": result,
             "baseline": {"exit": baseline.exit, "seconds": round(baseline.seconds, 2),
                          "findings": [_brief(f) for f in baseline.math_findings()]},
             "mutants": [r.to_json() for r in rows]}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
