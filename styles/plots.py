"""Figures written by training and evaluation (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def save_loss_curve(losses: Sequence[float], path: Path, title: str) -> None:
    """Per-step loss with a 10-step moving average."""
    window = [sum(losses[max(0, i - 9) : i + 1]) / len(losses[max(0, i - 9) : i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.plot(losses, color="#bbb", linewidth=0.8, label="step")
    ax.plot(window, color="#c0392b", linewidth=1.5, label="10-step mean")
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
