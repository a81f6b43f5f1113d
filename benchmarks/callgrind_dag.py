"""Instructions per node of vetgrad, counted by callgrind: build a random DAG of + * tanh relu
(constants on either side, shared nodes), backpropagate, drop it.

Wall-clock timings of a few milliseconds vary by several percent from run to run; instruction
counts do not, so a small change to the hot path shows. Two runs under valgrind, alike except that
the second does not build the graph (same interpreter start, imports, graph description and
compiled code), and the difference divided by the number of nodes is the cost of one node::

    python -m vetgrad.benchmarks.callgrind_dag                      # this tree's engine
    python -m vetgrad.benchmarks.callgrind_dag --tree /path/to/other/checkout --nodes 20000 --seed 0

Needs ``valgrind`` on PATH. The script is self-contained (the standard library and the engine of
``--tree``), so it measures any checkout, old or new: a checkout of one package (a ``package/``
folder) is imported as ``vetgrad`` from its folders mapped as the wheel maps them
(:func:`import_root`), never from the installed vetgrad; an older one as its ``engine`` package.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# folder of a checkout -> its place in the installed package (pyproject.toml's package-dir)
PACKAGE_DIR = {"package": "vetgrad", "engine": "vetgrad/engine", "nn": "vetgrad/nn",
               "conformance": "vetgrad/conformance", "benchmarks": "vetgrad/benchmarks"}


def import_root(tree: Path, into: Path) -> Path:
    """A folder from which ``tree``'s own vetgrad imports (put it first on PYTHONPATH): under
    ``into``, ``vetgrad/`` holds links to ``tree``'s folders as pyproject.toml's package-dir maps
    them. An older checkout (engine/ at top level, no package/) is its own import root."""
    if not (tree / "package").is_dir():
        return tree
    top = into / "vetgrad"
    top.mkdir(parents=True, exist_ok=True)
    for item in (tree / "package").iterdir():
        (top / item.name).symlink_to(item.resolve())
    for folder, place in PACKAGE_DIR.items():
        if folder != "package" and (tree / folder).is_dir():
            (into / place).symlink_to((tree / folder).resolve(), target_is_directory=True)
    return into


def dag_source(nodes: int, seed: int) -> str:
    """``def forward(leaf):`` building ``nodes`` nodes as straight-line code, as a user writes it.

    Node i uses node i - 1 as its first operand, so every node is reachable from the root; the
    second operand of a binary op is a recent node (shared) or, one time in five, a constant on
    either side. One node in ten is a new leaf."""
    rng = random.Random(seed)
    lines = ["def forward(leaf):", f"    v0 = leaf({rng.uniform(-1.0, 1.0)!r})"]
    for i in range(1, nodes):
        a = f"v{i - 1}"
        kind = rng.random()
        if kind < 0.1:
            lines.append(f"    v{i} = leaf({rng.uniform(-1.0, 1.0)!r})")
            continue
        op = rng.choice(("add", "mul", "tanh", "relu"))
        if op in ("tanh", "relu"):
            lines.append(f"    v{i} = {a}.{op}()")
            continue
        symbol = "+" if op == "add" else "*"
        side = rng.random()
        if side < 0.1:
            b = repr(rng.uniform(-2.0, 2.0))
            lines.append(f"    v{i} = {b} {symbol} {a}")
        elif side < 0.2:
            lines.append(f"    v{i} = {a} {symbol} {rng.uniform(-2.0, 2.0)!r}")
        else:
            lines.append(f"    v{i} = {a} {symbol} v{rng.randrange(max(0, i - 64), i)}")
    lines.append(f"    return v{max(nodes - 1, 0)}")
    return "\n".join(lines) + "\n"


def run(nodes: int, seed: int, build: bool) -> None:
    """The measured program: import the engine, compile the DAG, then (if ``build``) build it,
    backpropagate from its root and drop it."""
    import importlib

    Value = importlib.import_module(os.environ["VETGRAD_CALLGRIND_ENGINE"]).Value

    namespace: dict[str, object] = {}
    exec(compile(dag_source(nodes, seed), f"<dag {nodes} seed {seed}>", "exec"), namespace)
    forward = namespace["forward"]
    # the collector's counters where the graph starts: equal for every tree (otherwise how much
    # each tree's import allocated shifts when the young collections fall, and an extra one
    # over the young graph shows as a per-node cost)
    gc.collect()
    if build:
        root = forward(Value)  # type: ignore[operator]
        root.backward()
        del root


def instructions(tree: Path, nodes: int, seed: int, build: bool, valgrind: str) -> int:
    """Total instructions (Ir) of one run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
               str(Path(__file__).resolve()), "--run", "--nodes", str(nodes), "--seed", str(seed)]
        if not build:
            cmd.append("--no-build")
        root = import_root(tree, Path(tmp) / "import")
        engine = "vetgrad.engine" if root != tree else "engine"
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0",
               "VETGRAD_CALLGRIND_ENGINE": engine}
        where = subprocess.run([sys.executable, "-c", f"import {engine}; print({engine}.__file__)"],
                               env=env, cwd=tree, capture_output=True, text=True, check=True)
        if not Path(where.stdout.strip()).resolve().is_relative_to(tree.resolve()):
            raise RuntimeError(f"{engine} imports from {where.stdout.strip()}, not from {tree}")
        subprocess.run(cmd, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no instruction total in {out}")
        return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vetgrad.benchmarks.callgrind_dag",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20_000, help="graph size (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the DAG (default 0)")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout whose engine/ is measured (default this one)")
    parser.add_argument("--valgrind", default="valgrind", help="valgrind executable")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)  # the measured child
    parser.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    if args.run:
        run(args.nodes, args.seed, build=not args.no_build)
        return 0
    full = instructions(args.tree, args.nodes, args.seed, True, args.valgrind)
    empty = instructions(args.tree, args.nodes, args.seed, False, args.valgrind)
    print(f"tree {args.tree}: {args.nodes} nodes, seed {args.seed}")
    print(f"  with graph {full:,} Ir, without {empty:,} Ir")
    print(f"  {(full - empty) / args.nodes:,.1f} instructions per node (build + backward + free)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
