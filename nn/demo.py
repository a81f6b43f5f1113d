"""Train an MLP on two moons: ``python -m vetgrad.nn.demo`` (``--help`` lists the options).

Generates a seeded two-moons dataset, trains ``MLP(2, [16, 16, 1])`` (relu) with the lecture's
max-margin loss plus L2 regularisation (or binary cross-entropy) using Adam and a cosine
learning-rate schedule, reports progress on stderr and the final accuracy on stdout. When
matplotlib is installed it also saves ``loss.png`` and ``decision_boundary.png`` in the output
directory (default ``./nn-demo-output``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from typing import Any, Sequence

from vetgrad.engine import Value, no_grad
from vetgrad.nn.datasets import make_moons
from vetgrad.nn.layers import MLP
from vetgrad.nn.losses import binary_cross_entropy_with_logits, hinge_loss, l2_regularization
from vetgrad.nn.optim import SGD, Adam
from vetgrad.nn.schedulers import CosineAnnealingLR


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if not x > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return x

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vetgrad.nn.demo",
        description="Train a small MLP on a generated two-moons dataset with vetgrad's nn and "
                    "report its accuracy. Progress goes to stderr; with matplotlib installed, "
                    "a loss curve and a decision-boundary picture are saved.")
    p.add_argument("--samples", type=_positive(int), default=100, metavar="N",
                   help="number of points (default: 100)")
    p.add_argument("--noise", type=float, default=0.1,
                   help="standard deviation of the noise added to the moons (default: 0.1)")
    p.add_argument("--hidden", type=_positive(int), nargs="+", default=[16, 16], metavar="H",
                   help="hidden layer sizes (default: 16 16)")
    p.add_argument("--steps", type=_positive(int), default=150,
                   help="optimisation steps (default: 150)")
    p.add_argument("--batch-size", type=_positive(int), default=32, metavar="B",
                   help="points per step, drawn at random (default: 32)")
    p.add_argument("--loss", choices=["hinge", "bce"], default="hinge",
                   help="max-margin loss as in the lecture, or binary cross-entropy "
                        "(default: hinge)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="adam, or sgd with momentum 0.9 (default: adam)")
    p.add_argument("--lr", type=_positive(float), default=0.1,
                   help="initial learning rate, annealed by a cosine schedule (default: 0.1)")
    p.add_argument("--alpha", type=float, default=1e-4,
                   help="L2 regularisation strength (default: 1e-4)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the data, the initialisation and the batches (default: 0)")
    p.add_argument("--output-dir", default="nn-demo-output", metavar="DIR",
                   help="where pictures are saved (default: ./nn-demo-output)")
    p.add_argument("--no-plots", action="store_true", help="do not save pictures")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def accuracy(model: MLP, xs: list[list[float]], labels: list[int]) -> float:
    """Fraction of points on the right side of the decision boundary (score > 0 is class 1)."""
    with no_grad():
        right = sum((model(x).data > 0.0) == (y == 1) for x, y in zip(xs, labels))
    return right / len(xs)


def smoothed(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average over ``window`` steps (shorter at the start), to show the trend
    of a noisy minibatch loss."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def save_plots(model: MLP, xs: list[list[float]], labels: list[int], losses: list[float],
               out_dir: str, loss_name: str = "loss") -> list[str] | str:
    """Save the loss curve (each minibatch's loss and its moving average) and the decision
    boundary (with a legend and the accuracy); return their paths, or the reason none were
    written (matplotlib missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from vetgrad._extras import install_hint

        return f"matplotlib is not installed, so no pictures were saved: {install_hint('plot')}"
    os.makedirs(out_dir, exist_ok=True)
    loss_path = os.path.join(out_dir, "loss.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = range(1, len(losses) + 1)
    window = max(1, len(losses) // 20)
    ax.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="each minibatch")
    ax.plot(steps, smoothed(losses, window), color="tab:blue", linewidth=1.8,
            label=f"moving average over {window} steps")
    ax.set(xlabel="step", ylabel=loss_name, title=f"training loss: {loss_name} per minibatch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(loss_path, dpi=100)
    plt.close(fig)

    lo_x, hi_x = min(x for x, _ in xs) - 0.5, max(x for x, _ in xs) + 0.5
    lo_y, hi_y = min(y for _, y in xs) - 0.5, max(y for _, y in xs) + 0.5
    n = 40
    gx = [lo_x + (hi_x - lo_x) * i / (n - 1) for i in range(n)]
    gy = [lo_y + (hi_y - lo_y) * j / (n - 1) for j in range(n)]
    with no_grad():
        grid = [[model([x, y]).data for x in gx] for y in gy]
    boundary_path = os.path.join(out_dir, "decision_boundary.png")
    fig, ax = plt.subplots(figsize=(6, 5))
    lo = min(min(row) for row in grid)
    hi = max(max(row) for row in grid)
    # Contour the score itself (not the class) so the boundary line is interpolated, not blocky.
    ax.contourf(gx, gy, grid, levels=[min(lo, -1e-9) - 1, 0.0, max(hi, 1e-9) + 1],
                cmap="coolwarm", alpha=0.4)
    ax.contour(gx, gy, grid, levels=[0.0], colors="k", linewidths=0.8)
    for label, color in ((0, "tab:blue"), (1, "tab:red")):
        ax.scatter([p[0] for p, y in zip(xs, labels) if y == label],
                   [p[1] for p, y in zip(xs, labels) if y == label], color=color, s=18,
                   edgecolors="k", linewidths=0.4, label=f"class {label}")
    ax.plot([], [], color="k", linewidth=0.8, label="decision boundary (score 0)")
    acc = accuracy(model, xs, labels)
    ax.set(title=f"decision boundary: accuracy {acc:.1%} on {len(xs)} points", xlabel="x",
           ylabel="y")
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    fig.savefig(boundary_path, dpi=100)
    plt.close(fig)
    return [loss_path, boundary_path]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status (0 on success, 2 for bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    problem = ("--samples must be at least 2" if args.samples < 2 else
               f"--noise must be >= 0, got {args.noise}" if not args.noise >= 0 else
               f"--alpha must be >= 0, got {args.alpha}" if not args.alpha >= 0 else None)
    if problem:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {problem}", file=sys.stderr)
        return 2

    def progress(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    start = time.perf_counter()
    xs, labels = make_moons(args.samples, args.noise, seed=args.seed)
    targets = [2.0 * y - 1.0 for y in labels] if args.loss == "hinge" else [float(y) for y in labels]
    model = MLP(2, [*args.hidden, 1], "relu", "linear", init="kaiming_uniform", seed=args.seed)
    params = model.parameters()
    if args.optimizer == "adam":
        opt: Any = Adam(params, lr=args.lr)
    else:
        opt = SGD(params, lr=args.lr, momentum=0.9)
    sched = CosineAnnealingLR(opt, T_max=args.steps)
    rng = random.Random(args.seed)
    batch = min(args.batch_size, len(xs))
    progress(f"two moons: {len(xs)} points, noise {args.noise}, seed {args.seed}; "
             f"model MLP(2, {[*args.hidden, 1]}), relu hidden layers, linear output")
    progress(f"training {len(params)} parameters for {args.steps} steps ({args.optimizer}, "
             f"lr {args.lr}, batches of {batch}, {args.loss} loss + {args.alpha} * L2)")
    losses: list[float] = []
    every = max(1, args.steps // 10)
    for step in range(1, args.steps + 1):
        idx = rng.sample(range(len(xs)), batch) if batch < len(xs) else range(len(xs))
        scores = [model(xs[i]) for i in idx]
        ys = [targets[i] for i in idx]
        if args.loss == "hinge":
            loss: Value = hinge_loss(scores, ys)
        else:
            loss = binary_cross_entropy_with_logits(scores, ys)
        if args.alpha:
            loss = loss + l2_regularization(params, args.alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.data)
        if step % every == 0 or step == args.steps:
            progress(f"step {step:4d}/{args.steps}  loss {loss.data:.4f}  "
                     f"accuracy {accuracy(model, xs, labels):6.1%}")
    acc = accuracy(model, xs, labels)
    elapsed = time.perf_counter() - start
    right = round(acc * len(xs))
    print(f"final accuracy: {acc:.1%} ({right}/{len(xs)} points) after {args.steps} steps "
          f"in {elapsed:.1f} s")
    if not args.no_plots:
        loss_name = ("hinge" if args.loss == "hinge" else "binary cross-entropy") + \
            (f" + {args.alpha} × L2" if args.alpha else "")
        saved = save_plots(model, xs, labels, losses, args.output_dir, loss_name)
        if isinstance(saved, str):
            print(saved)
        else:
            print("saved " + " and ".join(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
