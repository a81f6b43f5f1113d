"""``vetgrad-conformance grade PATH_OR_SPEC...``: many engines, one campaign, one table.

Each engine is checked by the ordinary command line (``python -m vetgrad.conformance --engine
... --json ...``) in a process of its own, started in the engine's folder (so its own imports
work), under a wall-clock limit; a run that outlives it is killed with its whole process group.
The table is read from each run's JSON report (conformance/report.schema.json); a run that
leaves none (the engine does not load, the run crashes or is killed) still gets its row.

Exit status: 0 every engine reaches --level, 1 one or more do not, 2 usage error,
130 / 143 stopped by SIGINT / SIGTERM (the runs still going are killed, nothing is written).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from vetgrad.conformance.judging.levels import LEVELS
from vetgrad.conformance.mlp.cli import positive
from vetgrad.conformance.reporting.output import check_output_path, write_atomically

DEFAULT_GRAPHS = 500  # a verdict in a few seconds per engine
DEFAULT_TIMEOUT = 300.0
FINDING_WIDTH = 100  # characters of the first finding in the table (the JSON keeps it whole)

EPILOG = """\
examples:
  {prog} class/             # class/alice/engine.py, class/bob/engine.py, ...
  {prog} alice/ bob.py mypkg.engine:Value --workers 2
  {prog} class/ --graphs 2000 --level robust --csv grades.csv --json grades.json

what counts as an engine:
  a file            alice/engine.py, bob.py: the class named by --attr (default Value) in it
  a folder          alice/ holding an engine.py: that file
  a class folder    a folder with no engine.py: each subfolder holding an engine.py, and each of
                    its own .py files (except those starting with _)
  a module spec     mypkg.engine:Value: imported from the current folder, as --engine does
Each row is named after the folder (alice/engine.py: alice), the file (bob.py: bob) or the spec;
a name given twice gets -2, -3, ...

how it runs: each engine in its own process, python -m vetgrad.conformance --engine ... --json ...
--device cpu, started in the engine's folder, with the same campaign for all (--graphs, --seed,
--ops, --level, --strict). A run longer than --timeout is killed and its row says so; an engine
that does not load, or a run that ends without a report, gets a row saying why. Progress on stderr,
one line per engine; the Markdown table on stdout.
exit status: 0 every engine reaches --level, 1 one or more do not, 2 usage error (no engine found,
a path that does not exist, an option that cannot be used).
"""

CSV_COLUMNS = ("engine", *LEVELS, "reaches_level", "status", "first_finding", "ops", "graphs",
               "seconds", "source")


class UsageError(Exception):
    """What the arguments ask cannot be done (exit status 2)."""


class _StopError(Exception):
    """SIGTERM while grading (SIGINT arrives as KeyboardInterrupt)."""


@dataclass(frozen=True)
class Engine:
    """One engine to check: its row's ``name``, the ``--engine`` spec and the folder it runs in,
    the engine as seen from here (``shown``: ``class/alice/engine.py:Value``), and the argument
    it came from (``source``)."""

    name: str
    spec: str
    cwd: str
    shown: str
    source: str


@dataclass
class Row:
    """One engine's line of the table. ``levels``: level -> True (passed) / False / None (no
    report); ``status``: checked, load error, crashed or timed out."""

    name: str
    engine: str
    source: str
    status: str
    levels: dict[str, bool | None] = field(default_factory=dict)
    reaches_level: bool = False
    first_finding: str = ""
    finding_level: str | None = None
    ops: int | None = None
    graphs: int | None = None
    failed_graphs: int | None = None
    seconds: float = 0.0
    campaign_seconds: float | None = None
    exit_status: int | None = None
    mlp: str | None = None  # the folder's MLP (nn.py or mlp.py), conformance/mlp/grade_column.py
    mlp_finding: str = ""


def parser() -> argparse.ArgumentParser:
    from vetgrad.conformance.run.command import prog_name

    prog = prog_name() + " grade"
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check many engines with the same campaign and print one table: a row per\n"
                    "engine with its verdict at each level of the ladder, its first finding, the\n"
                    "ops and graphs tested and the time taken.",
        epilog=EPILOG.format(prog=prog))
    p.add_argument("engines", nargs="+", metavar="PATH_OR_SPEC",
                   help="engine files, folders holding an engine.py, class folders of those, or "
                        "module:Value specs")
    p.add_argument("--attr", default="Value", metavar="NAME",
                   help="the class to check in each file (default Value)")
    p.add_argument("--graphs", type=positive(int), default=DEFAULT_GRAPHS, metavar="N",
                   help=f"random graphs per engine (default {DEFAULT_GRAPHS})")
    p.add_argument("--seed", type=int, default=0, help="campaign seed, the same for every engine "
                                                       "(default 0)")
    p.add_argument("--ops", default=None, metavar="a,b,c", help="only these ops (default all)")
    p.add_argument("--level", choices=LEVELS, default="math",
                   help="the level an engine must reach to pass (default math)")
    p.add_argument("--strict", action="store_true", help="also fail ops less accurate than torch")
    p.add_argument("--workers", type=positive(int), default=1, metavar="N",
                   help="engines checked at the same time (default 1)")
    p.add_argument("--timeout", type=positive(float), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"wall-clock limit per engine; a run still going then is killed "
                        f"(default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.add_argument("--json", metavar="FILE",
                   help="also write the rows and the campaign options as JSON")
    return p


# -- which engines ------------------------------------------------------------------------------

def _file_engine(path: str, attr: str, source: str) -> Engine:
    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    name = os.path.basename(folder) if stem == "engine" else stem
    return Engine(name, f"./{os.path.basename(path)}:{attr}", folder,
                  f"{os.path.normpath(path)}:{attr}", os.path.normpath(source))


def _expand(arg: str, attr: str) -> list[Engine]:
    """The engines an argument stands for (named before names are made unique)."""
    if os.path.isfile(arg):
        if not arg.endswith(".py"):
            raise UsageError(f"{arg}: not a Python file (give a .py file, a folder or module:Value)")
        return [_file_engine(arg, attr, arg)]
    if os.path.isdir(arg):
        own = os.path.join(arg, "engine.py")
        if os.path.isfile(own):
            return [_file_engine(own, attr, arg)]
        entries = sorted(os.listdir(arg))
        found = [_file_engine(os.path.join(arg, e, "engine.py"), attr, os.path.join(arg, e))
                 for e in entries if os.path.isfile(os.path.join(arg, e, "engine.py"))]
        found += [_file_engine(os.path.join(arg, e), attr, os.path.join(arg, e)) for e in entries
                  if e.endswith(".py") and not e.startswith("_")
                  and os.path.isfile(os.path.join(arg, e))]
        if not found:
            raise UsageError(f"{arg}: no engine found (no engine.py in it, in a subfolder, "
                             f"nor any .py file)")
        return found
    module, _, name = arg.rpartition(":")
    if module and name and not module.endswith(".py") and os.sep not in module:
        return [Engine(arg, arg, os.getcwd(), arg, arg)]
    raise UsageError(f"{arg}: no such file or folder (nor a module:Value spec)")


def collect(args: Sequence[str], attr: str = "Value") -> list[Engine]:
    """The engines the arguments name, in order (a class folder's sorted), each once, with
    unique row names (a second "alice" is "alice-2")."""
    engines: list[Engine] = []
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    for arg in args:
        for engine in _expand(arg, attr):
            key = (engine.spec, engine.cwd)
            if key in seen:
                continue
            seen.add(key)
            unique, n = engine.name, 1
            while unique in names:
                n += 1
                unique = f"{engine.name}-{n}"
            names.add(unique)
            engines.append(dataclasses.replace(engine, name=unique))
    return engines


# -- one engine's run ---------------------------------------------------------------------------

def command(engine: Engine, args: argparse.Namespace, report: str) -> list[str]:
    """The command line checking ``engine`` with the campaign of ``args``, writing ``report``."""
    cmd = [sys.executable, "-m", "vetgrad.conformance", "--engine", engine.spec, "--json", report,
           "--device", "cpu", "--graphs", str(args.graphs), "--seed", str(args.seed),
           "--level", args.level, "--show", "0"]
    if args.ops:
        cmd += ["--ops", args.ops]
    if args.strict:
        cmd.append("--strict")
    return cmd


class Runs:
    """The process groups of the runs going on, to kill them all on SIGINT / SIGTERM."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pids: set[int] = set()
        self.stopping = False

    def kill_all(self) -> None:
        with self.lock:
            self.stopping = True
            for pid in self.pids:
                _killpg(pid)


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1][len("error:"):].strip()
    return lines[-1] if lines else ""


def check_one(engine: Engine, args: argparse.Namespace, runs: Runs, report: str) -> Row:
    """Run the command line on ``engine`` (in its folder, killed after ``args.timeout``), its
    JSON report written to ``report``, and read that into a row."""
    start = time.monotonic()
    timed_out = False
    with tempfile.TemporaryFile(dir=os.path.dirname(report)) as errors:
        with runs.lock:
            if runs.stopping:
                return Row(engine.name, engine.shown, engine.source, "not run")
            proc = subprocess.Popen(command(engine, args, report), cwd=engine.cwd,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errors, start_new_session=True)
            runs.pids.add(proc.pid)
        try:
            proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid)
            proc.wait()
        finally:
            _killpg(proc.pid)  # whatever the run left behind in its group
            with runs.lock:
                runs.pids.discard(proc.pid)
        seconds = time.monotonic() - start
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    row = Row(engine.name, engine.shown, engine.source, "checked", {lv: None for lv in LEVELS},
              seconds=round(seconds, 2), exit_status=proc.returncode)
    if timed_out:
        row.status = "timed out"
        row.first_finding = f"timed out: killed after {args.timeout:g} s"
        return row
    data = None
    if os.path.exists(report):
        try:
            with open(report, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = None
    if data is None:
        why = _one_line(_last_error(stderr))
        if proc.returncode == 2:
            row.status = "load error"
            row.first_finding = f"does not load: {why}" if why else "does not load"
        else:
            code = proc.returncode
            how = (f"killed by {signal.Signals(-code).name}" if code < 0 and -code in
                   signal.valid_signals() else f"exit status {code}")
            row.status = "crashed"
            row.first_finding = f"the run crashed ({how}, no report)" + (f": {why}" if why else "")
        return row
    _read_report(row, data, args.level)
    return row


def _read_report(row: Row, data: dict[str, Any], level: str) -> None:
    levels = data.get("levels", {})
    row.levels = {lv: bool(levels[lv]["passed"]) if lv in levels else None for lv in LEVELS}
    row.reaches_level = row.levels.get(level) is True and not data.get("interrupted")
    row.ops = data.get("tested", {}).get("ops")
    row.graphs = data.get("graphs")
    row.failed_graphs = levels.get(level, {}).get("failed_graphs")
    row.campaign_seconds = data.get("elapsed_seconds")
    findings = data.get("findings") or []
    if findings:
        first = findings[0]
        row.finding_level = first.get("level")
        row.first_finding = _one_line(f"[{first.get('level')}] {first.get('op')}: "
                                      f"{first.get('message', '')}")
    if data.get("stopped"):
        row.first_finding = row.first_finding or _one_line(data["stopped"])


# -- the table ----------------------------------------------------------------------------------

def _verdict(passed: bool | None) -> str:
    return "—" if passed is None else "pass" if passed else "fail"


def _shorten(text: str, width: int = FINDING_WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def _cell(value: Any) -> str:
    return "—" if value is None else str(value).replace("|", "\\|")


def markdown(rows: Sequence[Row]) -> str:
    mlp = any(r.mlp for r in rows)  # an MLP column when a student's folder holds a model
    head = ["engine", *LEVELS, *(["mlp"] if mlp else []), "first finding", "ops", "graphs", "seconds"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * (len(head) - 3) + ["--:"] * 3) + "|"]
    for r in rows:
        cells = [r.name, *(_verdict(r.levels.get(lv)) for lv in LEVELS), *([r.mlp] if mlp else []),
                 _shorten(r.first_finding or r.mlp_finding), r.ops, r.graphs,
                 f"{r.seconds:.1f}"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.name, *("" if r.levels.get(lv) is None else _verdict(r.levels[lv])
                                   for lv in LEVELS),
                         r.reaches_level, r.status, r.first_finding,
                         "" if r.ops is None else r.ops, "" if r.graphs is None else r.graphs,
                         f"{r.seconds:.2f}", r.source])
    return out.getvalue()


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The campaign every engine ran (what makes the rows comparable)."""
    return {"graphs": args.graphs, "seed": args.seed, "ops": args.ops, "level": args.level,
            "strict": args.strict, "device": "cpu", "timeout": args.timeout, "attr": args.attr}


def json_text(rows: Sequence[Row], args: argparse.Namespace) -> str:
    return json.dumps({"options": options(args), "engines": [asdict(r) for r in rows]}, indent=1,
                      ensure_ascii=False) + "\n"


def _progress(done: int, total: int, row: Row) -> str:
    if row.status == "checked":
        what = " ".join(f"{lv} {'✔' if row.levels[lv] else '✘'}" for lv in LEVELS
                        if row.levels.get(lv) is not None)
        what += f" · {row.ops} ops · {row.graphs} graphs"
    else:
        what = _shorten(row.first_finding)
    return f"[{done}/{total}] {row.name}: {what} · {row.seconds:.1f} s"


# -- the command line ---------------------------------------------------------------------------

def _check_options(args: argparse.Namespace) -> None:
    from vetgrad.conformance.run.command import missing_extra as _missing_extra
    from vetgrad.engine.ops import public_ops

    missing = _missing_extra()
    if missing:
        raise UsageError(missing)
    if not args.attr.isidentifier():
        raise UsageError(f"--attr must be a class name, got {args.attr!r}")
    if args.ops is not None:
        valid = [op.name for op in public_ops()]
        names = [n.strip() for n in args.ops.split(",") if n.strip()]
        unknown = [n for n in names if n not in valid]
        if unknown or not names:
            raise UsageError(f"--ops: unknown op(s) {', '.join(unknown) or repr(args.ops)}; "
                             f"valid: {', '.join(valid)}")
        args.ops = ",".join(names)
    for option in ("csv", "json"):
        path = getattr(args, option)
        if path == "-":
            raise UsageError(f"--{option} needs a file name (the table is on stdout already)")
        why = path and check_output_path(path, f"--{option}")
        if why:
            raise UsageError(why)


def grade(engines: Sequence[Engine], args: argparse.Namespace, err: Any = None) -> list[Row]:
    """Check every engine (``args.workers`` at a time); the rows in the engines' order."""
    err = err or sys.stderr
    runs = Runs()
    rows: dict[int, Row] = {}
    with tempfile.TemporaryDirectory(prefix="vetgrad-grade-") as folder:
        pool = ThreadPoolExecutor(max_workers=args.workers)
        try:
            futures = {pool.submit(_check_with_mlp, e, args, runs, os.path.join(folder, f"{i}.json")): i
                       for i, e in enumerate(engines)}
            for done, future in enumerate(as_completed(futures), 1):
                row = future.result()
                rows[futures[future]] = row
                print(_progress(done, len(engines), row), file=err, flush=True)
        except BaseException:
            runs.kill_all()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return [rows[i] for i in range(len(engines))]


def _check_with_mlp(engine: Engine, args: argparse.Namespace, runs: Runs, report: str) -> Row:
    """check_one, and the MLP column when the engine is a folder holding a model."""
    row = check_one(engine, args, runs, report)
    if os.path.isdir(engine.source) and not runs.stopping:
        from vetgrad.conformance.mlp.grade_column import add_column

        add_column(row, engine.cwd, args.timeout)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        _check_options(args)
        engines = collect(args.engines, args.attr)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not engines:
        print("error: no engines found", file=sys.stderr)
        return 2
    print(f"vetgrad grade: {len(engines)} engine{'s' * (len(engines) != 1)}, {args.graphs} graphs "
          f"each, seed {args.seed}, level {args.level}{', strict' if args.strict else ''}"
          f"{', ops ' + args.ops if args.ops else ''}, {args.workers} at a time, "
          f"timeout {args.timeout:g} s", file=sys.stderr, flush=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        rows = grade(engines, args)
    except KeyboardInterrupt:
        print("interrupted: the runs going on were killed, nothing written", file=sys.stderr)
        return 130
    except _StopError:
        print("terminated: the runs going on were killed, nothing written", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(markdown(rows))
    if args.csv:
        write_atomically(args.csv, csv_text(rows))
        print(f"table written to {args.csv}", file=sys.stderr)
    if args.json:
        write_atomically(args.json, json_text(rows, args))
        print(f"rows written to {args.json}", file=sys.stderr)
    passed = sum(r.reaches_level and r.mlp in (None, "pass") for r in rows)  # (an MLP must pass)
    print(f"\n{passed} passed, {len(rows) - passed} failed (level {args.level})")
    return 0 if passed == len(rows) else 1


def _raise_stopped(signum: int, frame: Any) -> None:
    raise _StopError()
