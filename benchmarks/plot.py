"""A log-log plot of time per node against graph size, one line per contender (matplotlib), in
the tables' unit (µs per node); with MLP results, a panel of ms per training step against samples
per step (a contender and its one-sample twin, ``name-1``, are one line). Every line stays visible where two coincide (micrograd and
micrograd-deep are the same engine until plain micrograd's recursion limit): each contender has its
own marker and dash pattern, drawn over wider, fainter lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)))


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(rows: Sequence[Any], path: Path, mlp: Sequence[Any] = ()) -> Path:
    """Draw the DAG and chain results (rows with ``kind``, ``contender``, ``nodes``, ``status``
    and ``total``, seconds per graph, plotted per node) side by side, and the MLP steps (rows with
    ``contender``, ``batch``, ``status`` and ``step``, seconds) when given; save to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("dag", "chain") if any(r.kind == k and r.status == "ok" for r in rows)]
    steps = [r for r in mlp if r.status == "ok"]
    panels = len(kinds) + (1 if steps else 0)
    fig, axes = plt.subplots(1, max(1, panels), figsize=(6.5 * max(1, panels), 6.4),
                             squeeze=False)
    titles = {"dag": "random DAG (add mul tanh relu)", "chain": "deep chain"}
    for ax, kind in zip(axes[0], kinds):
        names = list(dict.fromkeys(r.contender for r in rows if r.kind == kind))
        for k, name in enumerate(names):
            mine = [r for r in rows if r.kind == kind and r.contender == name]
            ok = [r for r in mine if r.status == "ok"]
            failed = [r for r in mine if r.status == "failed"]
            label = name + (" (per row of a 1,024-row batch)" if "batched" in name else "")
            if failed:
                label += f" (fails from {min(r.nodes for r in failed):,} nodes)"
            if not ok:
                continue
            _line(ax, k, label, [r.nodes for r in ok], [r.total / r.nodes * 1e6 for r in ok])
        _axes(ax, "nodes in the graph", "forward + backward + free, µs per node (median)",
              titles[kind])
    if steps:
        ax = axes[0][len(kinds)]
        series: dict[str, list[Any]] = {}
        for r in steps:
            series.setdefault(r.contender.removesuffix("-1"), []).append(r)
        for k, (name, mine) in enumerate(series.items()):
            mine.sort(key=lambda r: r.batch)
            _line(ax, k, name, [r.batch for r in mine], [r.step * 1e3 for r in mine])
        _axes(ax, "samples per step", "training step, ms (median)", "MLP(2, [16, 16, 1]) step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _line(ax: Any, k: int, label: str, xs: list[float], ys: list[float]) -> None:
    # later lines thinner and on top, so a line drawn over an equal one leaves its wider
    # predecessor showing around it
    ax.plot(xs, ys, marker=MARKERS[k % len(MARKERS)], markersize=7 - 0.4 * (k % 6),
            fillstyle="full" if k % 2 == 0 else "none", label=label,
            linestyle=DASHES[k % len(DASHES)], linewidth=max(1.0, 3.2 - 0.45 * k),
            alpha=0.9, zorder=2 + k)


def _axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    # under the axes, not over them: no legend hides a line
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
