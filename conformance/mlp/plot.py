"""``--plot PATH``: the learner's loss per training step beside torch's, as the notebooks plot
their loss, so that a divergence shows at a glance (needs matplotlib: vetgrad's plot extra)."""

from __future__ import annotations

from typing import Any


def plot(training: dict[str, Any], path: str, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from vetgrad._extras import install_hint

        raise ImportError(f"--plot needs matplotlib: {install_hint('plot')}") from exc
    steps = list(range(1, len(training["torch_losses"]) + 1))
    mine = [(k, v) for k, v in zip(steps, training["losses"]) if v is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot(steps, training["torch_losses"], "o-", label="torch (SGD, same weights)", color="tab:blue")
        if mine:
            ax.plot([k for k, _ in mine], [v for _, v in mine], "s--", label="yours",
                    color="tab:orange")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (sum of squared errors)")
        lr = training.get("lr")
        ax.set_title(f"{title}" + (f", lr {lr:.4g}" if lr is not None else ""), fontsize=9)
        ax.set_xticks(steps)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
