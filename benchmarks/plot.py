"""A log-log plot of time per node against graph size, one line per contender (matplotlib), in
the tables' unit (µs per node); with MLP results, a panel of ms per training step against samples
per step (a contender and its one-sample twin, ``name-1``, are one line). Every line stays visible where two coincide (micrograd and
micrograd-deep are the same engine until plain micrograd's recursion limit): each contender has its
own marker and dash pattern, drawn over wider, fainter lines.

A contender looks the same in every panel: its colour, marker, fill and dash come from
:data:`STYLES`, keyed by its name (a one-sample twin ``name-1`` is ``name``'s line); a user's
engine (``--engine``) gets one of :data:`USER_STYLES` chosen from its name by a fixed hash, the
same in every run."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, NamedTuple, Sequence


class Style(NamedTuple):
    color: str
    marker: str
    filled: bool
    dash: Any  # a matplotlib linestyle


_DOTS = (0, (5, 1, 1, 1))
STYLES: dict[str, Style] = {
    # dag and chain
    "vetgrad": Style("#1f77b4", "o", True, "-"),
    "vetgrad-compiled": Style("#aec7e8", "^", False, "--"),
    "float": Style("#7f7f7f", "D", True, ":"),
    "vetgrad-batched": Style("#17becf", "v", False, "-."),
    "vetgrad-batched-fast": Style("#9edae5", "<", True, _DOTS),
    "micrograd": Style("#ff7f0e", "s", True, "-"),
    "micrograd-deep": Style("#ffbb78", "s", False, "--"),
    "torch-f64": Style("#d62728", "P", True, "-"),
    "torch-f32": Style("#ff9896", "X", False, "--"),
    "torch-cuda-f64": Style("#8c564b", "*", True, "-."),
    "torch-cuda-f32": Style("#c49c94", "h", False, ":"),
    # mlp
    "vetgrad-step": Style("#2ca02c", ">", True, "-."),
    "vetgrad-numpy": Style("#98df8a", "h", True, ":"),
    "torch-vec-f64": Style("#9467bd", "D", False, "-"),
    "torch-vec-f32": Style("#c5b0d5", "v", True, "--"),
    "torch-vec-cuda-f64": Style("#e377c2", "^", True, "-."),
    "torch-vec-cuda-f32": Style("#f7b6d2", "o", False, ":"),
}
# For users' engines: colours none of STYLES uses, markers drawn differently from theirs.
USER_STYLES: tuple[Style, ...] = tuple(
    Style(color, marker, filled, dash)
    for color, marker, filled, dash in zip(
        ("#000000", "#bcbd22", "#e6194b", "#3cb44b", "#4363d8", "#911eb4", "#f032e6", "#808000"),
        ("p", "d", "8", "H", "p", "d", "8", "H"),
        (True, True, False, False, False, False, True, True),
        ("-", "--", "-.", ":", _DOTS, "-", "--", "-.")))


def style(name: str) -> Style:
    """The style of contender ``name`` in every panel (``name-1`` drawn as ``name``)."""
    name = name.removesuffix("-1") if name.removesuffix("-1") in STYLES else name
    if name in STYLES:
        return STYLES[name]
    return USER_STYLES[zlib.crc32(name.encode()) % len(USER_STYLES)]


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
            _line(ax, k, name, label, [r.nodes for r in ok],
                  [r.total / r.nodes * 1e6 for r in ok])
        _axes(ax, "nodes in the graph", "forward + backward + free, µs per node (median)",
              titles[kind])
    if steps:
        ax = axes[0][len(kinds)]
        series: dict[str, list[Any]] = {}
        for r in steps:
            series.setdefault(r.contender.removesuffix("-1"), []).append(r)
        for k, (name, mine) in enumerate(series.items()):
            mine.sort(key=lambda r: r.batch)
            _line(ax, k, name, name, [r.batch for r in mine], [r.step * 1e3 for r in mine])
        _axes(ax, "samples per step", "training step, ms (median)", "MLP(2, [16, 16, 1]) step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _line(ax: Any, k: int, name: str, label: str, xs: list[float], ys: list[float]) -> None:
    # the k-th line of a panel: later lines thinner and on top, so a line drawn over an equal one
    # leaves its wider predecessor showing around it; colour, marker and dash are the contender's
    s = style(name)
    ax.plot(xs, ys, color=s.color, marker=s.marker, markersize=7 - 0.4 * (k % 6),
            fillstyle="full" if s.filled else "none", label=label, linestyle=s.dash,
            linewidth=max(1.0, 3.2 - 0.45 * k), alpha=0.9, zorder=2 + k)


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
