"""A log-log plot of time per node against graph size, one line per contender (matplotlib), in
the tables' unit (µs per node). Every line stays visible where two coincide (micrograd and
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


def plot(rows: Sequence[Any], path: Path) -> Path:
    """Draw the DAG and chain results (rows with ``kind``, ``contender``, ``nodes``, ``status``
    and ``total``, seconds per graph, plotted per node) side by side and save them to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("dag", "chain") if any(r.kind == k and r.status == "ok" for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(6.5 * max(1, len(kinds)), 4.8),
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
            # later lines thinner and on top, so a line drawn over an equal one leaves its
            # wider predecessor showing around it
            ax.plot([r.nodes for r in ok], [r.total / r.nodes * 1e6 for r in ok],
                    marker=MARKERS[k % len(MARKERS)], markersize=7 - 0.4 * (k % 6),
                    fillstyle="full" if k % 2 == 0 else "none", label=label,
                    linestyle=DASHES[k % len(DASHES)], linewidth=max(1.0, 3.2 - 0.45 * k),
                    alpha=0.9, zorder=2 + k)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes in the graph")
        ax.set_ylabel("forward + backward + free, µs per node (median)")
        ax.set_title(titles[kind])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
