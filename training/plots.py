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


def save_eval_chart(results: Sequence, path: Path, own_target: float) -> None:
    """Own-style share per style: adapter at its defaults, adapter greedy, and the base control."""
    ids = [r.style_id for r in results]
    xs = range(len(ids))
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=80)
    bars = (("adapter_defaults", "adapter, defaults", "#27ae60", -0.27), ("adapter_greedy", "adapter, greedy",
            "#2e86c1", 0.0), ("base_defaults", "base + prompt (control)", "#aaa", 0.27))
    for run, label, colour, shift in bars:
        ax.bar([x + shift for x in xs], [r.runs[run].own for r in results], width=0.27, label=label, color=colour)
    ax.axhline(own_target, color="#c0392b", linestyle="--")
    ax.set(title="replies the all-styles classifier names as the style", ylim=(0, 1), xticks=list(xs))
    ax.set_xticklabels(ids, rotation=45, ha="right")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
