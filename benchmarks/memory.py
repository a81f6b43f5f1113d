"""Memory per graph node, on the deep chain, in a fresh interpreter per measurement.

Two figures, each divided by the chain's node count:

- *traced*: ``tracemalloc``'s peak from just before building the chain until ``backward()``
  returns (the graph still alive): every byte allocated through Python's allocators in between —
  node objects, their floats, closures and ``__dict__``s, the topological order and any other
  buffer backward makes. It cannot see torch's C++ allocations (tensors, autograd nodes).
- *rss*: the growth of the process's resident set over the same span (peak, read from
  ``VmHWM`` after resetting it), in a separate pass without tracemalloc. Linux only. This is the
  figure that counts for torch.

``python -m vetgrad.benchmarks.memory CONTENDER NODES`` prints one measurement as JSON.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from dataclasses import asdict, dataclass

from vetgrad.benchmarks import contenders, workloads


@dataclass(frozen=True)
class Memory:
    contender: str
    nodes: int
    traced_graph: int | None = None  # bytes held by the built graph (before backward)
    traced_peak: int | None = None  # peak bytes during build + backward
    rss_peak: int | None = None  # peak resident-set growth during build + backward
    error: str | None = None

    def per_node(self, field: str) -> float | None:
        """``field`` in bytes per node, or None when it was not measured."""
        value = getattr(self, field)
        return None if value is None else value / self.nodes


def _status() -> dict[str, int]:
    try:
        with open("/proc/self/status") as f:
            rows = dict(line.split(":", 1) for line in f)
        return {k: int(rows[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}
    except (OSError, KeyError, ValueError):
        return {}


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def measure(name: str, nodes: int) -> Memory:
    """Measure ``name`` on a chain of ``nodes`` nodes in this process."""
    contender = contenders.get(name)
    work = workloads.chain(nodes)
    leaf = contender.leaf()  # imports the engine (and torch) before anything is counted
    try:
        with contender.recursion_room(work.depth):
            gc.collect()
            rss_peak = None
            if _reset_peak() and (before := _status()):
                first, root = work.forward(leaf)
                root.backward()
                rss_peak = _status()["VmHWM"] - before["VmRSS"]
                del first, root
                gc.collect()
            tracemalloc.start()
            try:
                first, root = work.forward(leaf)
                graph = tracemalloc.get_traced_memory()[0]
                root.backward()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    except Exception as exc:  # a failing engine is a result to show
        return Memory(name, work.nodes, error=f"{type(exc).__name__}: {exc}"[:200])
    return Memory(name, work.nodes, graph, peak, rss_peak)


def measure_isolated(name: str, nodes: int, timeout: float = 600.0) -> Memory:
    """:func:`measure` in a fresh interpreter, so that nothing earlier in this process (freed
    arenas, imports, other contenders) is counted or reused."""
    try:
        done = subprocess.run([sys.executable, "-m", "vetgrad.benchmarks.memory", name, str(nodes)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Memory(name, nodes, error=f"timed out after {timeout:.0f} s")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Memory(name, nodes, error=f"exit {done.returncode}: {last}"[:200])
    return Memory(**json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m vetgrad.benchmarks.memory CONTENDER NODES", file=sys.stderr)
        return 2
    try:
        result = measure(args[0], int(args[1]))
    except (KeyError, ValueError) as exc:
        print(exc.args[0] if exc.args else exc, file=sys.stderr)
        return 2
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
