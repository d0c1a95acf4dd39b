"""The training figure: train and validation loss against epoch (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path


def plot_loss_curve(records: list[dict], path: str | Path, title: str = "") -> None:
    """Write ``path`` (PNG) from ``metrics.jsonl`` records (``epoch``, ``epoch_progress``,
    ``train_loss``, ``val_loss``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = [r["epoch"] - 1 + r.get("epoch_progress", 1.0) for r in records]
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, [r["train_loss"] for r in records], "o-", label="training")
    ax.plot(x, [r["val_loss"] for r in records], "s-", label="validation")
    best = min(records, key=lambda r: r["val_loss"])
    ax.axvline(best["epoch"] - 1 + best.get("epoch_progress", 1.0), color="gray", ls=":", label="best validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
