"""Instructions per graph of the conformance harness, counted by callgrind, per process.

The harness's graphs/s on a shared 2-core machine vary by 30% or more from run to run; instruction
counts do not. Two campaigns (``python -m vetgrad.conformance --no-shrink --no-edge-sweep --device cpu``)
run under ``valgrind --trace-children=yes``, alike except for the number of graphs, and the
difference divided by the difference in graphs is the cost of one graph in the harness's process
(generation, torch, judging) and in the engine's process (the engine and its side of the pipe)::

    python -m vetgrad.benchmarks.callgrind_harness                          # this tree, 50 and 550 graphs
    python -m vetgrad.benchmarks.callgrind_harness --tree /path/to/other/checkout --graphs 50,300

Needs ``valgrind`` on PATH; importing torch under valgrind takes about a minute, so a measurement
takes two to three (the two campaigns run side by side). A tree from before the engine ran in its
own process counts everything as the harness's; in a tree older than this module the engine's
process is killed before valgrind writes its counts (``engine process 0``). The harness's process is the one started here; the
engine's is the busiest of the processes it forked (a forked process's count includes what its
parent had run before the fork, which the difference removes).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from vetgrad.benchmarks.callgrind_dag import import_root

ROOT = Path(__file__).resolve().parent.parent
GRACE = 120.0  # seconds an engine process under valgrind may take to exit (and write its counts)


def campaign(tree: Path, graphs: int, folder: str, valgrind: str, root: Path) -> subprocess.Popen:
    """Start one campaign of ``graphs`` graphs under callgrind, its counts going to ``folder``;
    ``tree``'s own vetgrad imported from ``root`` (callgrind_dag.import_root), not the installed one."""
    env = dict(os.environ, VETGRAD_ENGINE_EXIT_GRACE=str(GRACE), VETGRAD_PROGRESS_INTERVAL="3600",
               PYTHONPATH=str(root))
    command = [valgrind, "--tool=callgrind", "--trace-children=yes",
               f"--callgrind-out-file={folder}/cg.%p", sys.executable, "-m", "vetgrad.conformance",
               "--graphs", str(graphs), "--no-shrink", "--no-edge-sweep", "--device", "cpu",
               "--graph-timeout", "900"]
    return subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def counts(folder: str) -> tuple[int, list[int]]:
    """(instructions of the harness's process, those of every other process, largest first)."""
    harness, others = 0, []
    for name in os.listdir(folder):
        text = Path(folder, name).read_text(errors="replace")
        total = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
        command = re.search(r"^cmd:\s*(.*)$", text, re.M)
        if total is None or command is None:
            continue
        if " -m vetgrad.conformance " in command.group(1) + " ":
            harness = int(total.group(1))
        else:
            others.append(int(total.group(1)))
    return harness, sorted(others, reverse=True)


def measure(tree: Path, small: int, large: int, valgrind: str) -> dict[str, float]:
    """Millions of instructions per graph: harness, engine process, total."""
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b, \
            tempfile.TemporaryDirectory() as imports:
        root = import_root(tree, Path(imports))
        runs = [(campaign(tree, small, a, valgrind, root), a), (campaign(tree, large, b, valgrind, root), b)]
        for proc, _ in runs:
            _, err = proc.communicate()
            if proc.returncode not in (0, 1):
                raise SystemExit(f"a campaign under valgrind failed ({proc.returncode}):\n{err[-2000:]}")
        (h_small, o_small), (h_large, o_large) = counts(a), counts(b)
    per = 1e6 * (large - small)
    engine = (o_large[0] - o_small[0]) / per if o_small and o_large else 0.0
    harness = (h_large - h_small) / per
    return {"harness": harness, "engine process": engine, "total": harness + engine}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vetgrad.benchmarks.callgrind_harness",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    parser.add_argument("--graphs", default="50,550", help="the two campaigns' sizes (default 50,550)")
    parser.add_argument("--valgrind", default="valgrind", help="valgrind executable")
    args = parser.parse_args(argv)
    try:
        small, large = (int(x) for x in args.graphs.split(","))
    except ValueError:
        parser.error(f"--graphs takes two sizes such as 50,550, not {args.graphs!r}")
    if not 0 < small < large:
        parser.error(f"--graphs: the first size must be positive and below the second ({args.graphs})")
    if not (args.tree / "conformance").is_dir() or not (args.tree / "package").is_dir():
        parser.error(f"--tree {args.tree} holds no conformance/ and package/ folders (a checkout "
                     f"of vetgrad as one package)")
    result = measure(args.tree.resolve(), small, large, args.valgrind)
    print(f"{args.tree}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items())
          + " million instructions per graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
