"""``python -m vetgrad.benchmarks``: a quick run of every suite, printed as Markdown (the graph suites run
each contender in its own worker process: see :mod:`benchmarks.worker`).

``--engine mypkg.engine:Value`` (or ``path/to/engine.py:Value``, as the conformance harness takes
it; repeatable) adds a user's engine to the DAG and chain suites, checked against the same float64
reference as every contender; one that cannot load is a usage error, checked before any timing.

Exit status: 0 when every contender that ran computed the right numbers, 1 when one did not
(a ``wrong`` row), 2 for a usage error (unknown suite, contender or size: the message lists the
valid names; an engine that cannot load: one line naming the problem).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from vetgrad.benchmarks import contenders, machine, markdown, plot, runner, workloads
from vetgrad.benchmarks.progress import Heartbeat
from vetgrad.benchmarks.worker import Worker
from vetgrad.conformance.subject.adapters import EngineLoadError

SIZES: dict[str, int] = {"100": 100, "1k": 1_000, "10k": 10_000, "100k": 100_000,
                         "1M": 1_000_000}
DEFAULT_PLOT = Path("benchmark-report") / "benchmarks.png"
SIZE_RANGES: dict[str, tuple[int, int]] = {"dag": (100, 100_000), "chain": (1_000, 1_000_000)}


@dataclass(frozen=True)
class Mode:
    dag: tuple[int, ...]
    chain: tuple[int, ...]
    memory: tuple[tuple[str, int], ...]
    harness_graphs: int
    budget: runner.Budget


MODES: dict[str, Mode] = {
    "quick": Mode(
        dag=(100, 1_000, 10_000, 100_000),
        chain=(1_000, 10_000, 100_000),
        memory=(("vetgrad", 1_000_000), ("micrograd-deep", 10_000), ("torch-f64", 100_000)),
        harness_graphs=512,
        budget=runner.Budget(min_rounds=3, max_rounds=5000, min_time=0.3),
    ),
    "full": Mode(
        dag=workloads.DAG_SIZES,
        chain=workloads.CHAIN_SIZES,
        memory=(("vetgrad", 1_000_000), ("micrograd-deep", 30_000), ("torch-f64", 1_000_000)),
        harness_graphs=2048,
        budget=runner.Budget(min_rounds=5, max_rounds=50_000, min_time=2.0),
    ),
}


def _names(text: str, valid: Sequence[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        parser.error(f"unknown {what} {', '.join(map(repr, unknown)) or '(none given)'}; "
                     f"valid: {', '.join(valid)}")
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vetgrad.benchmarks",
        description="Time vetgrad against micrograd and PyTorch (CPU, and CUDA when present) on "
                    "random DAGs, deep chains, an MLP training step and the conformance harness; "
                    "print a Markdown report with ratios to vetgrad, memory per node and the "
                    "targets.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes, short timings (default; on 2 cores about 2 minutes "
                           "when the machine is quiet, up to 6 when it is busy: 219 s measured "
                           "at load 4, 362 s at load 6 with one --engine)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="every size (DAGs to 100k nodes, chains to 1M), longer timings")
    p.set_defaults(mode="quick")
    p.add_argument("--suites", default=",".join(contenders.SUITES),
                   help=f"comma-separated suites to run (default all: "
                        f"{','.join(contenders.SUITES)})")
    p.add_argument("--contenders", default=None,
                   help=f"comma-separated contenders (default all): "
                        f"{', '.join(contenders.BY_NAME)}")
    p.add_argument("--engine", action="append", default=[], metavar="SPEC",
                   help="also time your engine in the dag and chain suites: module:Value or "
                        "path/to/engine.py:Value (repeatable); named from the spec, e.g. "
                        "alice/engine for alice/engine.py")
    p.add_argument("--sizes", default=None,
                   help=f"comma-separated graph sizes for the dag and chain suites "
                        f"(default by mode): {', '.join(SIZES)}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random DAGs (default 0)")
    p.add_argument("--plot", type=Path, default=DEFAULT_PLOT, metavar="PATH",
                   help=f"where to write the log-log plot when matplotlib is installed "
                        f"(default {DEFAULT_PLOT})")
    p.add_argument("--no-plot", action="store_true", help="write no plot")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write every result and the machine info as JSON")
    p.add_argument("--torch-threads", type=int, default=1, metavar="N",
                   help="torch.set_num_threads(N) (default 1: every tensor here is tiny; "
                        "0 keeps torch's default)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
        suites = _names(args.suites, contenders.SUITES, "suite(s)", parser)
        names = (list(contenders.BY_NAME) if args.contenders is None
                 else _names(args.contenders, list(contenders.BY_NAME), "contender(s)", parser))
        sizes = None
        if args.sizes is not None:
            spelled = {k.lower(): k for k in SIZES}  # 1m, 10K and 1M all name the same size
            given = ",".join(spelled.get(s.strip().lower(), s.strip()) for s in args.sizes.split(","))
            sizes = [SIZES[s] for s in _names(given, list(SIZES), "size(s)", parser)]
        _check_outputs(args, parser)
        users = _user_contenders(args.engine)
        _check_selection(suites, names, sizes, parser, users)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    except EngineLoadError as exc:  # one line, no usage text: the engine is the problem
        print(f"python -m vetgrad.benchmarks: error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    print(f"vetgrad benchmarks ({args.mode}): suites {', '.join(suites)}; contenders "
          f"{', '.join(names + [u.name for u in users])}; the report follows on stdout when "
          "every suite is done", file=sys.stderr, flush=True)
    machine.set_torch_threads(args.torch_threads)
    info = machine.info()
    with Heartbeat() as beat:
        results, notes = _run(MODES[args.mode], suites, names, sizes, args.seed, beat.say,
                              args.torch_threads, users)
    footer, written = _outputs(args, results, info, started)
    print(markdown.render(results, markdown.header(info, args.mode, args.seed, args_list),
                          notes + footer), end="")
    return 1 if results.wrong else (0 if written else 3)


PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _check_outputs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse, before any timing, an output path that cannot be written."""
    outputs = [("--json", args.json)] + ([] if args.no_plot else [("--plot", args.plot)])
    for option, path in outputs:
        if path is None:
            continue
        if path.is_dir():
            parser.error(f"{option} {path}: is a directory; give a file name")
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
            parser.error(f"{option} {path}: cannot create a file there")
    if not args.no_plot and args.plot.suffix.lower() not in PLOT_FORMATS:
        parser.error(f"--plot {args.plot}: the file type must be one of {', '.join(PLOT_FORMATS)}")


def _user_contenders(specs: Sequence[str]) -> list[contenders.Contender]:
    """A contender for each ``--engine`` spec, each loaded once in a worker of its own (nothing
    timed); EngineLoadError naming the spec and the problem when one cannot be."""
    out: list[contenders.Contender] = []
    for spec in specs:
        c = contenders.user(spec, [u.name for u in out])
        worker = Worker(c.name, 1, None, c.engine)
        try:
            worker.load()
        except RuntimeError as exc:
            text = str(exc)
            raise EngineLoadError(text if spec in text else f"--engine {spec}: {text}") from None
        finally:
            worker.close()
        out.append(c)
    return out


def _check_selection(suites: list[str], names: list[str], sizes: list[int] | None,
                     parser: argparse.ArgumentParser,
                     users: Sequence[contenders.Contender] = ()) -> None:
    """Refuse a selection that runs nothing (the suites, contenders and sizes do not meet)."""
    for suite in suites:
        takers = [*contenders.for_suite(suite, names), *(u for u in users if suite in u.suites)] \
            if suite != "harness" else [n for n in names if n in ("vetgrad", "micrograd")]
        in_range = sizes is None or suite not in ("dag", "chain") or any(
            lo <= s <= hi for s in sizes for lo, hi in [SIZE_RANGES[suite]])
        if takers and in_range:
            return
    parser.error("nothing to run: no chosen contender takes part in the chosen suites at the "
                 "chosen sizes (dag: 100 to 100k, chain: 1k to 1M; the mlp suite has no "
                 "micrograd-deep, the harness suite only vetgrad and micrograd)")


def _run(mode: Mode, suites: list[str], names: list[str], sizes: list[int] | None, seed: int,
         say: runner.Progress, threads: int = 1,
         users: Sequence[contenders.Contender] = ()) -> tuple[runner.Results, list[str]]:
    """Run the chosen suites (``users``: the ``--engine`` contenders, after the built-in ones in
    the dag and chain suites); return the results and notes for the footer."""
    results = runner.Results()
    notes: list[str] = [f"Your engine `{u.name}`: `{u.engine}`, in the dag and chain suites, "
                        "checked against the same float64 reference as every contender."
                        for u in users if set(u.suites) & set(suites)]
    budget = mode.budget
    for suite in suites:
        began = time.perf_counter()
        if suite in ("dag", "chain"):
            lo, hi = SIZE_RANGES[suite]
            default = mode.dag if suite == "dag" else mode.chain
            chosen = [s for s in (sizes or default) if lo <= s <= hi]
            if not chosen:
                notes.append(f"{suite}: none of the sizes given is in its range "
                             f"({lo:,} to {hi:,}).")
            takers = [*contenders.for_suite(suite, names), *users]
            results.graphs += runner.graph_suite(suite, chosen, takers, budget, say, seed=seed,
                                                 threads=threads)
            if suite == "dag" and chosen:
                results.reused = workloads.dag(max(chosen), seed).reused
        elif suite == "mlp":
            results.mlp = runner.mlp_suite(contenders.for_suite("mlp", names), budget, say, threads)
        elif suite == "harness":
            engines = [n for n in names if n in ("vetgrad", "micrograd")]
            results.harness = runner.harness_suite(engines, mode.harness_graphs, budget, say)
        elif suite == "memory":
            wanted = set(names) | ({"micrograd-deep"} if "micrograd" in names else set())
            results.memory = runner.memory_suite([m for m in mode.memory if m[0] in wanted], say)
            if "vetgrad-compiled" in names:
                results.compiled_memory = runner.compiled_memory(10_000, say)
        results.seconds[suite] = time.perf_counter() - began
    return results, notes


def _outputs(args: argparse.Namespace, results: runner.Results, info: dict,
             started: float) -> tuple[list[str], bool]:
    """Write the plot and JSON; return the report's closing lines, and whether every file asked
    for was written (a failure is a line of the report, never a lost report)."""
    lines, written = [], True
    if args.no_plot:
        lines.append("Plot: not written (--no-plot).")
    elif not plot.available():
        lines.append("Plot: not written (matplotlib is not installed: pip install matplotlib).")
    elif not any(r.status == "ok" for r in (*results.graphs, *results.mlp)):
        lines.append("Plot: not written (no dag, chain or mlp results).")
    else:
        try:
            path = plot.plot(results.graphs, args.plot, results.mlp)
            lines.append("Plot: time per graph against graph size (and per MLP step against "
                         f"samples per step), log-log, written to `{path}`.")
        except (OSError, ValueError) as exc:
            written = False
            lines.append(f"Plot: **could not be written** to `{args.plot}`: {exc}")
    wall = time.perf_counter() - started
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"machine": info, "mode": args.mode, "seed": args.seed,
                                             "wall_seconds": wall, **asdict(results)}, indent=1))
            lines.append(f"JSON: `{args.json}`.")
        except OSError as exc:
            written = False
            lines.append(f"JSON: **could not be written** to `{args.json}`: {exc}")
    bad = sum(r.status == "wrong" for r in (*results.graphs, *results.mlp, *results.harness))
    split = ", ".join(f"{k} {v:.0f} s" for k, v in results.seconds.items())
    lines.append(f"Wall time {wall:.1f} s ({split}). "
                 + (f"{bad} result(s) disagree with the reference." if bad
                    else "Every result matched its reference."))
    return lines, written
