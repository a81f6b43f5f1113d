"""A log-log plot of time per graph against graph size, one line per contender (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(rows: Sequence[Any], path: Path) -> Path:
    """Draw the DAG and chain results (rows with ``kind``, ``contender``, ``nodes``, ``status``
    and ``total``, seconds per graph) side by side and save them to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("dag", "chain") if any(r.kind == k for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(6.5 * max(1, len(kinds)), 4.8),
                             squeeze=False)
    titles = {"dag": "random DAG (add mul tanh relu)", "chain": "deep chain"}
    for ax, kind in zip(axes[0], kinds):
        names = list(dict.fromkeys(r.contender for r in rows if r.kind == kind))
        for name in names:
            mine = [r for r in rows if r.kind == kind and r.contender == name]
            ok = [r for r in mine if r.status == "ok"]
            failed = [r for r in mine if r.status == "failed"]
            label = name
            if failed:
                label += f" (fails from {min(r.nodes for r in failed):,} nodes)"
            if not ok:
                continue
            ax.plot([r.nodes for r in ok], [r.total for r in ok], marker="o",
                    label=label, linestyle="--" if failed else "-")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes in the graph")
        ax.set_ylabel("forward + backward + free, seconds (median)")
        ax.set_title(titles[kind])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
