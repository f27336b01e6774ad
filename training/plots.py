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


def save_eval_chart(results: Sequence, path: Path, ppl_target: float, own_target: float) -> None:
    """Two panels per style: adapter/base perplexity ratio, and own-style share for adapter vs base."""
    ids = [r.style_id for r in results]
    xs = range(len(ids))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), dpi=80)
    left.bar(xs, [r.ppl_ratio for r in results], color="#2e86c1")
    left.axhline(ppl_target, color="#c0392b", linestyle="--", label=f"target {ppl_target}")
    left.set(title="held-out perplexity: adapter / base", xticks=list(xs))
    left.set_xticklabels(ids, rotation=45, ha="right")
    left.legend(frameon=False)
    right.bar([x - 0.2 for x in xs], [r.own_adapter for r in results], width=0.4, label="adapter", color="#27ae60")
    right.bar([x + 0.2 for x in xs], [r.own_base for r in results], width=0.4, label="base (control)", color="#aaa")
    right.axhline(own_target, color="#c0392b", linestyle="--")
    right.set(title="replies classified as the style", ylim=(0, 1), xticks=list(xs))
    right.set_xticklabels(ids, rotation=45, ha="right")
    right.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
