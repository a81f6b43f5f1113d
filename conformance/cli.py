"""``python -m conformance``: check an engine against PyTorch on random graphs.

Exit status: 0 everything tested conforms, 1 a mismatch or crash was found, 2 usage error,
130 / 143 stopped by SIGINT / SIGTERM (a partial report, marked interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from typing import Any, Sequence

from conformance import interrupt
from conformance.adapters import EngineLoadError
from conformance.cluster import ClusterError
from conformance.engine_run import GRAPH_TIMEOUT
from conformance.generate import resolve_ops
from conformance.isolation import ProbeError
from conformance.levels import LEVELS, at_or_below
from conformance.output import check_output_path, write_atomically
from conformance.report import Report, select_findings
from engine.ops import public_ops

EPILOG = """\
examples:
  python -m conformance                                 # our engine, 2,000 graphs, every device
  python -m conformance --engine micrograd.engine:Value # any micrograd-style Value class
  python -m conformance --time 60 --workers 2 --strict  # a one-minute strict campaign
  python -m conformance --ops tanh,mul --max-nodes 8 --json report.json
  python -m conformance --shard 3/16 --graphs 100000    # slice 3 of 16 of the seed space
  python -m conformance merge s1.json s2.json --json all.json  # shard reports into one

levels: every graph is judged at once on a ladder; --level (default math) decides the verdict.
  math    ordinary inputs and outputs, one backward(): values, derivatives, accumulation
  robust  + special values and extremes (an IEEE result, never an exception or a complex
          number), deep graphs, a second backward() adding the same to every leaf
  torch   + torch's conventions: kink/tie subgradients, where() masks, signed zeros, retained
          root and interior grads, the formula torch uses for a reflected form
verdicts: default mode fails on what no correct implementation explains (a relative error of 1e-6
or more in an op's value or local derivative, a different nan/inf/signed-zero class, a crash where
torch returns a number, a structural error in accumulation); smaller differences are 'imprecise'.
--strict also fails an op measurably less accurate than torch against an exact (mpmath) reference.
isolation: the engine runs in its own process (forked per campaign, and again after it exits,
crashes or hangs); what it does there is a verdict on the graph it was running, never a wrong one.
exit status: 0 all tested conforms, 1 mismatches found, 2 usage error (also: the engine cannot
be loaded, or --json cannot be written), 130 stopped by SIGINT (Ctrl-C), 143 by SIGTERM: the
report of what was checked until then is printed and written, marked interrupted.
--json - writes the JSON report to stdout; the human report then goes to stderr.
"""


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes K/N (e.g. 2/8), got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m conformance", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", default="engine:Value", metavar="MODULE:ATTR",
                   help="a micrograd-style Value class or an Adapter subclass (default: engine:Value)")
    p.add_argument("--graphs", type=_positive(int), default=None, metavar="N",
                   help="how many graphs (default 2000, or unlimited with --time)")
    p.add_argument("--time", type=_positive(float), default=None, metavar="SECONDS",
                   help="stop after this long (with --graphs: whichever comes first)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--max-nodes", type=_positive(int), default=30, metavar="N",
                   help="nodes per graph, at most (default 30)")
    p.add_argument("--ops", default=None, metavar="a,b,c",
                   help="only these ops (default all): " + ",".join(op.name for op in public_ops()))
    p.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                   help="torch reference device (default all: cpu, and cuda when available)")
    p.add_argument("--level", choices=LEVELS, default="math",
                   help="the level of the ladder that decides the exit status and the closing "
                        "'N passed, N failed' (default math; all levels are always judged)")
    p.add_argument("--strict", action="store_true", help="also fail ops less accurate than torch")
    p.add_argument("--json", metavar="PATH",
                   help="write the whole report as JSON (atomically; '-': to stdout)")
    p.add_argument("--workers", type=_positive(int), default=1, metavar="N",
                   help="processes on this machine (default 1)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run the shards on a Dask cluster: local:N starts N worker processes "
                        "here, tcp://host:8786 uses a running scheduler (pip install "
                        "'vetgrad[cluster]'); one shard per cluster worker unless --workers")
    p.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                   help="check only slice K of N of the seed space (default 1/1)")
    p.add_argument("--max-findings", type=_positive(int), default=20, metavar="N",
                   help="findings kept, shrunk and reported (default 20)")
    p.add_argument("--no-shrink", action="store_true", help="report failing graphs unshrunk")
    p.add_argument("--no-edge-sweep", action="store_true",
                   help="skip the exhaustive sweep of each op over its kink and edge values "
                        "(run first, by shard 1, as graph -1)")
    p.add_argument("--higher-order", type=int, default=0, metavar="K", choices=(2, 3),
                   help="also check derivatives up to order K (2 or 3) against torch.autograd.grad("
                        "create_graph=True), for engines with engine.grad (ours); default off")
    p.add_argument("--graph-timeout", type=_positive(float), default=GRAPH_TIMEOUT, metavar="SECONDS",
                   help=f"seconds the engine may spend on one graph before it is reported as "
                        f"hanging (default {GRAPH_TIMEOUT:g}; also the probe's deadline)")
    p.add_argument("--show-probe", action="store_true",
                   help="only probe the engine: print each op's forms and spellings (abs(x), "
                        "x.abs()), whether each is supported and why, then exit")
    p.add_argument("--show", type=int, default=3, metavar="N",
                   help="reproducer scripts printed in full (default 3; all are in --json)")
    return p


def _devices(choice: str) -> list[str]:
    from conformance.torch_ref import available_devices

    have = available_devices()
    if choice == "all":
        if "cuda" not in have and os.environ.get("REQUIRE_CUDA") == "1":
            raise EngineLoadError("REQUIRE_CUDA=1 but torch.cuda.is_available() is False")
        return have
    if choice not in have:
        raise EngineLoadError(f"device {choice!r} is not available here (have: {', '.join(have)})")
    return [choice]


def _progress_printer(total: int | None) -> Any:
    if not sys.stderr.isatty():
        return None
    start = time.perf_counter()

    def show(report: Report) -> None:
        rate = report.graphs / max(time.perf_counter() - start, 1e-9)
        of = f"/{total}" if total else ""
        sys.stderr.write(f"\r  {report.graphs}{of} graphs, {report.failed} failed, {rate:.0f}/s ")
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> tuple[Report, list[str]]:
    devices = _devices(args.device)
    ops = resolve_ops(args.ops.split(",")) if args.ops else None
    names = [op.name for op in ops] if ops else None
    graphs = args.graphs if args.graphs is not None else (None if args.time else 2000)
    forms = _probe(args.engine, args.graph_timeout) if args.workers > 1 else None
    workers = args.workers if forms is not None else 1
    combined: Report | None = None
    executor = None
    if args.cluster:
        from conformance.cluster import Cluster

        executor = Cluster(args.cluster)
        if args.workers == 1:  # one share per cluster worker
            workers = executor.size
            forms = _probe(args.engine, args.graph_timeout) if workers > 1 else None
    try:
        for device in devices:
            if interrupt.requested():
                break
            combined = _run_device(args, device, graphs, names, forms, workers, executor, combined)
    finally:
        if executor is not None:
            executor.close()
    if combined is None:
        raise interrupt.Interrupted()
    combined.findings = select_findings(combined.findings, args.max_findings)
    return combined, devices


def _run_device(args: argparse.Namespace, device: str, graphs: int | None, names: Any,
                forms: Any, workers: int, executor: Any, combined: Report | None) -> Report | None:
    """The campaign on one device in ``workers`` shares (local processes or cluster workers),
    merged into ``combined``."""
    jobs = []
    for w in range(workers):
        # worker w checks batches w, w + workers, ...: each batch is the one a single process
        # checks, so no count depends on --workers
        jobs.append(dict(engine=args.engine, graphs=graphs, seconds=args.time, seed=args.seed,
                         max_nodes=args.max_nodes, ops=names, device=device, strict=args.strict,
                         shard=args.shard, blocks=(w, workers), max_findings=args.max_findings,
                         shrink=not args.no_shrink, higher_order=args.higher_order,
                         edges=not args.no_edge_sweep and w == 0,
                         graph_timeout=args.graph_timeout, forms=forms))
    if graphs is not None:
        jobs = jobs[: max(1, -(-graphs // 256))]  # no worker without a batch
    if executor is not None:
        from conformance.cluster import run_job
        from conformance.engine_spec import engine_spec

        spec = engine_spec(args.engine)  # what a worker elsewhere needs (a test mutant's source)
        for job in jobs:
            job["engine"] = spec or args.engine

        def done(i: int, total: int) -> None:
            print(f"  cluster: share {i}/{total} done", file=sys.stderr, flush=True)

        reports = executor.run(run_job, jobs, done)
    elif len(jobs) == 1:
        jobs[0]["progress"] = _progress_printer(graphs)
        from conformance.campaign import run_campaign

        reports = [run_campaign(**jobs[0])]
    else:
        from conformance.workers import run_workers

        reports = run_workers(jobs)
    for r in reports:
        if combined is None:
            combined = r
            combined.devices = []
        else:
            combined.merge(r)
            combined.elapsed = max(combined.elapsed, r.elapsed)
    if combined is not None:
        combined.devices.append(device)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    return combined


def _show_probe(args: argparse.Namespace, out: Any) -> int:
    """``--show-probe``: the probe's decisions, in the engine's own process (exit 0; 2 when the
    engine cannot be loaded; 1 when its process is lost in the probe)."""
    from conformance.campaign import open_engine
    from conformance.probe import format_probe

    try:
        session = open_engine(args.engine, args.graph_timeout)
    except EngineLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        forms = session.forms()
        log = session.probe_log()
    except ProbeError as exc:
        print(f"the probe failed: {exc}", file=sys.stderr)
        return 1
    finally:
        session.close()
    print(f"vetgrad probe: engine {session.name}", file=out)
    print(format_probe(log), file=out)  # type: ignore[arg-type]
    print(f"{len(forms)} ops supported", file=out)
    return 0


def _probe(engine: str, timeout: float) -> dict[str, tuple[str, ...]] | None:
    """The probe, once for all workers (None: it failed; one process then reports how)."""
    from conformance.campaign import open_engine

    session = open_engine(engine, timeout)
    try:
        return session.forms()
    except ProbeError:
        return None
    finally:
        session.close()


def ladder_line(report: Report) -> str:
    """``math ✔ · robust ✘ div, log (raises ZeroDivisionError where torch gives inf or nan) ·
    torch ✘ 3 ops (the sign of a zero gradient (torch convention))``."""
    parts = []
    for level, reached, causes in report.ladder():
        if reached and not causes:
            parts.append(f"{level} ✔")
            continue
        ops = list(dict.fromkeys(op for _, by_op in causes for op in by_op))
        named = ", ".join(ops) if len(ops) <= 4 else f"{len(ops)} ops"
        top = f" ({causes[0][0]})" if causes else ""
        parts.append(f"{level} {'✔' if reached else '✘'} {named}{top}")
    return " · ".join(parts)


def op_status(report: Report, name: str) -> str:
    """ok, imprecise, fail or unsupported, at the report's level."""
    if name in report.unsupported and not report.unsupported[name]:
        return "unsupported"
    failing = {op for (level, _), by_op in report.causes.items() if at_or_below(level, report.level)
               for op in by_op}
    st = report.per_op.get(name)
    if name in failing:
        return "fail"
    return "imprecise" if st is not None and st.imprecise else "ok"


def format_report(report: Report, show: int) -> str:
    lines = [f"ladder: {ladder_line(report)}   (judged at --level {report.level})"]
    if report.precision != "float64":
        lines.append(f"the engine computes in {report.precision}: judged with {report.precision}'s "
                     f"rounding (values off by ~1e-8 relative are no failure; --strict holds it "
                     f"to float64)")
    lines.append(f"{'op':<12} {'cases':>8} {'passed':>8} {'failed':>7} {'imprecise':>9} {'worst ulps':>10}  status")
    extra = [name for name in report.per_op if name not in report.ops]
    for name in [*report.ops, *extra]:
        st = report.per_op.get(name)
        if st is None or st.cases == 0:
            lines.append(f"{name:<12} {0:>8} {0:>8} {0:>7} {0:>9} {'-':>10}  not reached")
            continue
        status = op_status(report, name)
        status = "FAIL" if status == "fail" else status
        forms = report.unsupported.get(name)
        if forms:
            status += f" (forms {','.join(forms)} unsupported)"
        lines.append(f"{name:<12} {st.cases:>8} {st.passed:>8} {st.failed:>7} {st.imprecise:>9} "
                     f"{st.worst_ulps:>10.0f}  {status}")
    if report.kinds:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(report.kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"failing graphs by first finding: {kinds}")
    missing = [name for name, forms in report.unsupported.items() if not forms]
    if missing:
        lines.append(f"unsupported (not tested): {', '.join(missing)}")
    if report.causes:
        lines.append("")
        lines.append("diagnoses, by level (graphs per op):")
        for level, _, causes in report.ladder():
            for cause, by_op in causes:
                ops = ", ".join(f"{op}: {n} graph{'s' if n > 1 else ''}" for op, n in by_op.items())
                lines.append(f"  [{level}] {cause} ({ops})")
    shown = [f for f in report.findings if at_or_below(f.level, report.level)]
    if shown:
        lines.append("")
        lines.append(f"findings at level {report.level} or below ({len(shown)} shown of "
                     f"{report.failed} failing graphs), lowest level first:")
        for i, f in enumerate(shown):
            where = "edge sweep" if f.index < 0 else f"graph {f.index}"
            lines.append(f"- [{f.level}] [{f.device}] {where}: {f.cause or f.kind} in {f.op} "
                         f"(node {f.node}, {len(f.graph.nodes)} nodes after shrinking): {f.message}")
            if i < show and f.reproducer:
                lines.append("  reproducer:")
                lines.extend("    " + line for line in f.reproducer.splitlines())
    return "\n".join(lines)


SCHEMA_VERSION = 1  # conformance/report.schema.json; a new version only adds fields


def _vetgrad_version() -> str:
    from engine import __version__

    return __version__


def _engine_module(spec: Any) -> str | None:
    return spec.partition(":")[0] if isinstance(spec, str) else getattr(spec, "__module__", None)


def _engine_version(spec: Any) -> str | None:
    """The engine module's ``__version__``, else its top package's distribution version."""
    import importlib
    import importlib.metadata

    name = _engine_module(spec)
    if not name:
        return None
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None) if module is not None else None
    if version is None:
        top = name.split(".")[0]
        version = getattr(sys.modules.get(top), "__version__", None)
        if version is None:
            try:
                version = importlib.metadata.version(top)
            except importlib.metadata.PackageNotFoundError:
                return None
    return str(version)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Every option of the run as plain JSON values."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())}


def report_json(report: Report, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    return {
        "schema_version": SCHEMA_VERSION, "vetgrad_version": _vetgrad_version(),
        "engine_module": _engine_module(args.engine),
        "engine_version": _engine_version(args.engine),
        "command_line": list(sys.argv), "options": _options(args),
        "engine": report.engine, "seed": report.seed, "strict": report.strict,
        "devices": report.devices, "graphs": report.graphs, "passed": report.passed,
        "failed": report.failed, "imprecise_graphs": report.imprecise_graphs,
        "elapsed_seconds": report.elapsed, "max_nodes": args.max_nodes, "shard": list(args.shard),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "level": report.level, "precision": report.precision,
        "levels": {level: {"passed": reached, "failed_graphs": report.failed_at[level],
                           "failing_ops": sorted({op for _, by_op in causes for op in by_op}),
                           "causes": [{"cause": c, "graphs_by_op": by_op} for c, by_op in causes]}
                   for level, reached, causes in report.ladder()},
        "per_op": {name: vars(st) | {"status": op_status(report, name)}
                   for name, st in report.per_op.items()}
                  | {name: {"status": "unsupported"} for name, forms in report.unsupported.items()
                     if not forms},
        "unsupported": report.unsupported,
        "failing_graphs_by_first_finding": report.kinds,
        "findings": [f.to_json() for f in report.findings],
        **({"interrupted": True} if report.interrupted else {}),
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:  # python -m conformance merge a.json b.json --json all.json
        from conformance.merge import main as merge_main

        return merge_main(argv[1:])
    p = parser()
    args = p.parse_args(argv)
    if args.json:
        why = check_output_path(args.json)
        if why:
            print(f"error: {why}", file=sys.stderr)
            return 2
    out = sys.stderr if args.json == "-" else sys.stdout
    interrupt.reset()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupt.install()
    # a console script, unlike `python -m`, does not look in the current folder for --engine;
    # for this run only (a caller's sys.path is left as it was)
    path = list(sys.path)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return _main(args, out)
    finally:
        sys.path[:] = path
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _missing_extra() -> str | None:
    """What the harness needs that is not installed (the conformance extra), in one line."""
    import importlib.util

    missing = [m for m in ("torch", "numpy", "mpmath") if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (f"the conformance harness needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: pip install 'vetgrad[conformance]'")


def _main(args: argparse.Namespace, out: Any) -> int:
    missing = _missing_extra()
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    if ":" not in args.engine.strip(":") or args.engine.startswith(":") or args.engine.endswith(":"):
        print(f"error: --engine must look like module:attr (e.g. engine:Value), got {args.engine!r}",
              file=sys.stderr)
        return 2
    if args.show_probe:
        return _show_probe(args, out)
    try:
        if args.higher_order:  # asked of the engine in its own process, as everything else
            from conformance.campaign import open_engine

            session = open_engine(args.engine, args.graph_timeout)
            try:
                if not session.supports_higher_order:
                    raise EngineLoadError(f"--higher-order needs an engine with grad() (functional "
                                          f"gradients); {session.name} has none")
            finally:
                session.close()
        report, devices = run(args)
        report.level = args.level
    except (EngineLoadError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --ops and the like
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except interrupt.Interrupted:
        print("interrupted before any graph was checked", file=sys.stderr)
        return interrupt.exit_status()
    mode = ("strict" if args.strict else "default") + f", level {args.level}"
    print(f"vetgrad conformance: engine {report.engine}, seed {args.seed}, devices {','.join(devices)}, "
          f"mode {mode}, shard {args.shard[0]}/{args.shard[1]}, max nodes {args.max_nodes}", file=out)
    print(format_report(report, args.show), file=out)
    rate = report.graphs / report.elapsed if report.elapsed else 0.0
    print(f"{report.graphs} graphs in {report.elapsed:.1f} s ({rate:.0f}/s with {args.workers} "
          f"process{'es' if args.workers > 1 else ''}), "
          f"{report.imprecise_graphs} with end-to-end differences beyond 5e-7 from torch's batched "
          f"kernels that rounding explains (exact replay)", file=out)
    if report.interrupted:
        sig = interrupt.signal_number()
        name = signal.Signals(sig).name if sig else "a signal"
        print(f"interrupted by {name}: a partial report of the {report.graphs} graphs checked",
              file=out)
    if args.json:
        text = json.dumps(report_json(report, args), indent=1)
        if args.json == "-":
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        else:
            write_atomically(args.json, text)
            print(f"report written to {args.json}", file=out)
    print(f"{report.passed} passed, {report.failed} failed", file=out)
    if report.interrupted or interrupt.requested():
        return interrupt.exit_status()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
