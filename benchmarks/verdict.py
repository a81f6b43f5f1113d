"""Time to verdict: the default campaign (``python -m vetgrad.conformance --device cpu``) on learner-style
engines, correct and buggy, with our own engine as the yardstick in the same run. What a learner
waits for: the whole run's wall time, and the first ``found`` line on stderr for a buggy engine.

``python -m vetgrad.benchmarks.verdict [--rounds 3]`` prints a table with the ratios to our engine."""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple, Sequence

ROOT = Path(__file__).resolve().parent.parent
LEARNERS = ROOT / "tests" / "engines" / "learners"
YARDSTICK = "vetgrad.engine:Value"


class Engine(NamedTuple):
    name: str
    spec: str  # --engine; a variant of the lecture engine is written to a file first
    buggy: bool


def engines(folder: Path) -> list[Engine]:
    """Our engine, the lecture's correct engine, and its tanh with '=' for '+=' (the lecture's bug)."""
    sys.path.insert(0, str(ROOT))
    from tests.engines.learners.variants import write_variant

    eq_tanh = write_variant("eq_tanh", folder)
    return [Engine("vetgrad (yardstick)", YARDSTICK, False),
            Engine("lecture, correct", f"{LEARNERS / 'lecture.py'}:Value", False),
            Engine("lecture, tanh '=' for '+='", f"{eq_tanh}:Value", True)]


class Timing(NamedTuple):
    wall: float
    first_found: float | None  # seconds to the first 'found' line on stderr (None: none)
    status: int


def time_verdict(spec: str, extra: Sequence[str] = ()) -> Timing:
    """One default campaign of ``spec``, timed from the start of the process."""
    argv = [sys.executable, "-m", "vetgrad.conformance", "--engine", spec, "--device", "cpu", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    first = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)  # type: ignore[arg-type]
    buffered = b""
    while True:
        chunk = os.read(proc.stderr.fileno(), 65536)  # type: ignore[union-attr]
        if not chunk:
            break
        buffered += chunk
        if first is None and b"found [" in buffered:
            first = time.perf_counter() - start
    status = proc.wait()
    return Timing(time.perf_counter() - start, first, status)


def measure(rounds: int, folder: Path) -> list[tuple[Engine, list[Timing]]]:
    """Each engine ``rounds`` times, the engines alternating within each round."""
    chosen = engines(folder)
    results: dict[str, list[Timing]] = {e.name: [] for e in chosen}
    for _ in range(rounds):
        for e in chosen:
            results[e.name].append(time_verdict(e.spec))
    return [(e, results[e.name]) for e in chosen]


def table(results: list[tuple[Engine, list[Timing]]]) -> str:
    base = statistics.median(t.wall for t in results[0][1])
    lines = ["| engine | exit | wall (s, median) | × vetgrad | first `found` (s) |", "|---|---|---|---|---|"]
    for e, timings in results:
        wall = statistics.median(t.wall for t in timings)
        founds = [t.first_found for t in timings if t.first_found is not None]
        found = f"{statistics.median(founds):.2f}" if founds else "—"
        status = ",".join(sorted({str(t.status) for t in timings}))
        lines.append(f"| {e.name} | {status} | {wall:.2f} ({', '.join(f'{t.wall:.2f}' for t in timings)}) "
                     f"| {wall / base:.2f} | {found} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m vetgrad.benchmarks.verdict",
        description="Time to verdict: the default campaign (python -m vetgrad.conformance --device "
                    "cpu) on learner-style engines, correct and buggy, with vetgrad's own engine "
                    "as the yardstick in the same run. What a learner waits for: the whole run's "
                    "wall time, and the first 'found' line on stderr for a buggy engine. Prints "
                    "a table with the ratios to vetgrad's engine.")
    p.add_argument("--rounds", type=int, default=3, help="runs of each engine (default 3)")
    args = p.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(table(measure(args.rounds, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
