"""``vetgrad-conformance mlp --model FILE.py:MLP [--step FILE.py:step]``: the learner's network
(and training loop) against torch. Exit status: 0 everything matches torch, 1 a difference was
found, 2 usage error (the model or step cannot be loaded, an option cannot be used)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Sequence

from vetgrad.conformance.reporting.output import check_output_path, write_atomically

EPILOG = """\
examples:
  {prog} --model mlp.py:MLP                       # the network: forward, layout, gradients
  {prog} --model mlp.py:MLP --step train.py:step  # and 5 steps of their loop against torch's SGD
  {prog} --model micrograd.nn:MLP --shape 3:4,4,1 --shape 2:8,1
  {prog} --model mlp.py:MLP --step mlp.py:step --steps 20 --plot loss.png --json report.json

the model: a class built as MODEL(nin, nouts) (the lecture's MLP(3, [4, 4, 1])) with
parameters() and a forward model(x); a spec module:MLP or path/to/file.py:MLP.
the step: step(model, xs, ys), the body of the learner's loop (forward, reset the gradients,
backward(), update; returns the loss). Without --step, a model with its own zero_grad() and
step(lr) is trained by the lecture's loop at --lr.
in-process: the learner's code runs in this process (unlike --engine's campaign): an exception
is a finding; a call running past --deadline seconds is stopped (SIGALRM; not in C code).
exit status: 0 everything matches torch, 1 a difference was found, 2 usage error.
"""


def _shape(text: str) -> tuple[int, list[int]]:
    try:
        nin, _, rest = text.partition(":")
        shape = int(nin), [int(n) for n in rest.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shape takes NIN:N,N,... (e.g. 3:4,4,1), got {text!r}") from None
    if shape[0] < 1 or not shape[1] or min(shape[1]) < 1:
        raise argparse.ArgumentTypeError(f"--shape needs positive sizes, got {text!r}")
    return shape


def positive(kind: type) -> Any:
    """An argparse type: ``kind(text)``, finite and above 0 (conformance/run/grade.py uses it too)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG.format(prog=prog),
        description="Check a learner's MLP (the lecture's Neuron, Layer, MLP) and training loop "
                    "against the same network in torch float64.")
    p.add_argument("--model", required=True, metavar="FILE.py:MLP", help="the model class")
    p.add_argument("--step", metavar="FILE.py:step", help="the training step: step(model, xs, ys) -> loss")
    p.add_argument("--steps", type=positive(int), default=5, metavar="N", help="training steps (default 5)")
    p.add_argument("--lr", type=positive(float), default=0.05,
                   help="the lr for a model's own step(lr) without --step (default 0.05)")
    p.add_argument("--shape", type=_shape, action="append", metavar="NIN:N,N,...",
                   help="a shape to build (repeatable; default 3:4,4,1 2:3,1 4:5,3,2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs (default 0)")
    p.add_argument("--deadline", type=positive(float), default=30.0, metavar="SECONDS",
                   help="seconds one call of the learner's code may take (default 30)")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON (atomically)")
    p.add_argument("--plot", metavar="PATH", help="draw the loss per step, yours beside torch's")
    p.add_argument("--show", type=int, default=3, metavar="N", help="reproducers printed (default 3)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "vetgrad-conformance mlp") -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    for option in ("json", "plot"):
        path = getattr(args, option)
        why = path and (f"--{option} needs a file path" if path == "-"
                        else check_output_path(path, f"--{option}"))
        if why:
            print(f"error: {why}", file=sys.stderr)
            return 2
    from vetgrad.conformance.mlp import learner
    from vetgrad.conformance.mlp.api import check_all, trains_itself
    from vetgrad.conformance.mlp.report_text import format_report, summary

    if "" not in sys.path and os.getcwd() not in sys.path:  # module:MLP from the current folder
        sys.path.insert(0, os.getcwd())
    learner.DEADLINE = args.deadline
    start = time.monotonic()
    try:
        train = args.step is not None or trains_itself(learner.load(args.model, "model").obj)
        if args.plot and not train:
            raise learner.UsageError("--plot draws a training run: give --step FILE.py:step (or a "
                                     "model with its own zero_grad() and step(lr))")
        print(f"vetgrad mlp: model {args.model}"
              + (f", step {args.step or 'its own zero_grad() and step(lr)'}, {args.steps} steps" if train else "")
              + f", seed {args.seed}", flush=True)
        report = check_all(args.model, args.step, shapes=args.shape, steps=args.steps,
                           seed=args.seed, lr=args.lr, train=train)
    except (learner.UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report.elapsed = time.monotonic() - start
    print(format_report(report, args.show))
    if args.json:
        from vetgrad.conformance.mlp.report_json import report_json

        options = {k: v for k, v in sorted(vars(args).items())}
        write_atomically(args.json, json.dumps(report_json(report, options), indent=1))
        print(f"report written to {args.json}")
    if args.plot and report.training and report.training.get("torch_losses"):
        from vetgrad.conformance.mlp.plot import plot

        try:
            plot(report.training, args.plot, f"{args.model}: loss per step")
        except ImportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}")
    elif args.plot:
        print(f"no plot: the training run did not start ({args.plot} not written)")
    print(summary(report))
    return 1 if report.failed else 0
