"""``python -m vetgrad.conformance``: check an engine against PyTorch on random graphs.

Exit status: 0 everything tested conforms, 1 a mismatch or crash was found, 2 usage error,
130 / 143 stopped by SIGINT / SIGTERM (a partial report, marked interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, Sequence

from vetgrad.conformance import interrupt
from vetgrad.conformance.judging.levels import LEVELS
from vetgrad.conformance.reporting.json_report import SCHEMA_VERSION, report_json
from vetgrad.conformance.reporting.output import check_output_path, write_atomically
from vetgrad.conformance.reporting.text import format_report, graph_counts, kind_counts, ladder_line
from vetgrad.conformance.run.cluster import ClusterError
from vetgrad.conformance.run.command import missing_extra, prog_name, version_text
from vetgrad.conformance.run.orchestrate import campaign_of, resolve_devices, run
from vetgrad.conformance.subject.adapters import EngineLoadError
from vetgrad.conformance.subject.execute import GRAPH_TIMEOUT, MAX_HANGS
from vetgrad.conformance.subject.session import ProbeError
from vetgrad.engine.ops import public_ops

__all__ = ["SCHEMA_VERSION", "format_report", "ladder_line", "main", "parser", "report_json", "run"]

EPILOG = """\
examples:
  python -m vetgrad.conformance                                 # our engine, 2,000 graphs, every device
  python -m vetgrad.conformance --engine micrograd.engine:Value # any micrograd-style Value class
  python -m vetgrad.conformance --time 60 --workers 2 --strict  # a one-minute strict campaign
  python -m vetgrad.conformance --ops tanh,mul --max-nodes 8 --json report.json
  python -m vetgrad.conformance --shard 3/16 --graphs 100000    # slice 3 of 16 of the seed space
  python -m vetgrad.conformance merge s1.json s2.json --json all.json  # shard reports into one

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
counts: --graphs N random graphs, plus (shard 1, unless --no-edge-sweep) the edge sweep's graphs,
counted apart: one per op and operand form on its kink and edge values, and a 2,500-deep chain of
add ("2000 random graphs + 44 edge-sweep graphs"); the closing line counts both.
forms (--show-probe, the table): n one operand (x.tanh(), abs(x)), nn two Values (x * y), nc a
plain number on the right (x * 2), cn a plain number on the left (2 * x).
isolation: the engine runs in its own process (forked per campaign, and again after it exits,
crashes or hangs); what it does there is a verdict on the graph it was running, never a wrong one.
After --max-hangs graphs have hung (each costs --graph-timeout) the campaign stops and says so.
progress: on stderr, a live line on a terminal, a status line every 5 s otherwise
(VETGRAD_PROGRESS_INTERVAL), and each new kind of finding at or below --level as it is found.
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


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {text!r}")
    return value


def _gib(text: str) -> float:
    """--memory-limit: GiB, 0 (no cap) or at least 0.5 (torch alone takes ~0.25 GiB)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB, got {text!r}") from None
    if not (value == 0 or 0.5 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected 0 (no cap) or at least 0.5 GiB, got {text!r}")
    return value


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
        prog=prog_name(), description="Check an autograd engine against PyTorch on random graphs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version_text(),
                   help="print vetgrad's, torch's and Python's versions and exit")
    p.add_argument("--engine", default="vetgrad.engine:Value", metavar="MODULE:ATTR",
                   help="a micrograd-style Value class or an Adapter subclass (default: vetgrad.engine:Value, vetgrad's own)")
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
                        "here, tcp://host:8786 uses a running scheduler (needs Dask: vetgrad's "
                        "cluster extra); one shard per cluster worker unless --workers")
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
    p.add_argument("--max-hangs", type=_count, default=MAX_HANGS, metavar="N",
                   help=f"stop the campaign once N graphs have hung (default {MAX_HANGS}; 0 never "
                        f"stops): each hanging graph costs a whole --graph-timeout")
    p.add_argument("--memory-limit", type=_gib, default=None, metavar="GIB",
                   help="GiB of data the engine's process may hold (default half this machine's "
                        "memory, at most 8; 0: no cap): a leaking or runaway engine raises "
                        "MemoryError there, a finding, instead of the machine running out")
    p.add_argument("--show-probe", action="store_true",
                   help="only probe the engine: print each op's forms and spellings (abs(x), "
                        "x.abs()), whether each is supported and why, then exit")
    p.add_argument("--show", type=int, default=3, metavar="N",
                   help="reproducer scripts printed in full (default 3; all are in --json)")
    return p


def _show_probe(args: argparse.Namespace, out: Any) -> int:
    """``--show-probe``: the probe's decisions, in the engine's own process (exit 0; 2 when the
    engine cannot be loaded or offers nothing to check; 1 when its process is lost in the probe)."""
    from vetgrad.conformance.run.campaign import open_engine
    from vetgrad.conformance.subject.probe import format_probe, nothing_to_check

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
    why = nothing_to_check([op.name for op in public_ops()], forms, None, log)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:  # python -m vetgrad.conformance merge a.json b.json --json all.json
        from vetgrad.conformance.reporting.merge import main as merge_main

        return merge_main(argv[1:], prog=f"{prog_name()} merge")
    if argv[:1] == ["grade"]:  # python -m vetgrad.conformance grade class/ --csv grades.csv
        from vetgrad.conformance.run.grade import main as grade_main

        return grade_main(argv[1:])
    if argv[:1] == ["mlp"]:  # python -m vetgrad.conformance mlp --model mlp.py:MLP --step mlp.py:step
        from vetgrad.conformance.mlp.cli import main as mlp_main

        return mlp_main(argv[1:], prog=f"{prog_name()} mlp")
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


def _main(args: argparse.Namespace, out: Any) -> int:
    why = _usage_error(args)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    if args.show_probe:
        return _show_probe(args, out)
    try:
        report = _run(args, out)
    except (EngineLoadError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --ops and the like
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except interrupt.Interrupted:
        print("interrupted before any graph was checked", file=sys.stderr)
        return interrupt.exit_status()
    _print_report(report, args, out)
    if report.interrupted or interrupt.requested():
        return interrupt.exit_status()
    return 1 if report.failed else 0


def _usage_error(args: argparse.Namespace) -> str | None:
    """What makes the command line unusable before anything starts (None: nothing)."""
    missing = missing_extra()
    if missing:
        return missing
    if ":" not in args.engine.strip(":") or args.engine.startswith(":") or args.engine.endswith(":"):
        return f"--engine must look like module:attr (e.g. engine:Value), got {args.engine!r}"
    return None


def _run(args: argparse.Namespace, out: Any) -> Any:
    """The campaign of ``args`` (built here, once), its header printed first; its report."""
    campaign = campaign_of(args)
    if args.higher_order:  # asked of the engine in its own process, as everything else
        from vetgrad.conformance.run.campaign import open_engine

        session = open_engine(args.engine, args.graph_timeout)
        try:
            if not session.supports_higher_order:
                raise EngineLoadError(f"--higher-order needs an engine with grad() (functional "
                                      f"gradients); {session.name} has none")
        finally:
            session.close()
    if not args.cluster:
        from vetgrad.conformance.subject.process import prestart as prestart_engine

        prestart_engine()  # the engine processes' starter boots while torch is imported here
    if args.workers > 1 and not args.cluster:
        from vetgrad.conformance.run.workers import prestart

        prestart()  # the workers' fork server imports torch while this process does
    devices = resolve_devices(args.device)
    mode = ("strict" if args.strict else "default") + f", level {args.level}"
    # the header first (a CI log shows what runs before the progress lines)
    print(f"vetgrad conformance: engine {args.engine}, seed {args.seed}, devices "
          f"{','.join(devices)}, mode {mode}, shard {args.shard[0]}/{args.shard[1]}, "
          f"max nodes {args.max_nodes}", file=out, flush=True)
    report, devices = run(args, devices, campaign)
    report.level = args.level
    return report


def _print_report(report: Any, args: argparse.Namespace, out: Any) -> None:
    """The report as text on ``out``, the closing lines, and ``--json``."""
    if report.engine != args.engine:  # what was loaded, e.g. a file given by path
        print(f"engine {report.engine} (as loaded from {args.engine})", file=out)
    print(format_report(report, args.show), file=out)
    rate = report.graphs / report.elapsed if report.elapsed else 0.0
    print(f"{graph_counts(report)} in {report.elapsed:.1f} s ({rate:.0f}/s with {args.workers} "
          f"process{'es' if args.workers > 1 else ''}), "
          f"{report.imprecise_graphs} with end-to-end differences beyond 5e-7 from torch's batched "
          f"kernels that rounding explains (exact replay)", file=out)
    if report.stopped:
        print(report.stopped, file=out)
    if report.interrupted:
        sig = interrupt.signal_number()
        name = signal.Signals(sig).name if sig else "a signal"
        print(f"interrupted by {name}: a partial report of the {graph_counts(report)} checked",
              file=out)
    if args.json:
        text = json.dumps(report_json(report, args), indent=1)
        if args.json == "-":
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        else:
            write_atomically(args.json, text)
            print(f"report written to {args.json}", file=out)
    print(kind_counts(report), file=out)
    print(f"{report.passed} passed, {report.failed} failed", file=out)


if __name__ == "__main__":
    sys.exit(main())
