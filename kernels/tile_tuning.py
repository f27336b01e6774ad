"""Choosing a packed-linear kernel's tile on this host: time each tile on the model's own weights, keep the faster.

Inkwell's own CPU linears (``kernels.pair_gemm`` for bf16, ``kernels.block_gemm`` for fp32) each have two
tiles whose results agree bit for bit; which is faster differs between CPUs (PERFORMANCE.md, fifteenth and
seventeenth passes), so the engine times both once the weights are packed and keeps the faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

TUNE_ROWS = 16  # a decode batch: where the tiles differ
TUNE_ROUNDS = 5  # passes over the weights per tile, alternated; the best counts
TUNE_MARGIN = 0.03  # the second tile must be this much faster to replace the default
TUNE_BYTES = 128 << 20  # weights timed: well past an L3, so read from memory as in decode; bounded for big models


@dataclass(frozen=True)
class TiledKernel:
    """A linear kernel with interchangeable tiles: their names (the default first), how to select one
    process-wide, the linear itself, and its input rows' dtype and width for a packed weight."""

    tiles: tuple[str, str]
    select: Callable[[str], None]
    linear: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    dtype: torch.dtype
    in_features: Callable[[torch.Tensor], int]


def tune(kernel: TiledKernel, weights: Sequence[torch.Tensor]) -> tuple[str, dict[str, float]]:
    """Time ``TUNE_ROWS`` rows through the packed weights (the first ``TUNE_BYTES`` of them) with each tile,
    alternated, select the faster (the default unless the other wins by ``TUNE_MARGIN``) and return it with
    each tile's best seconds a pass."""
    weights = first_bytes(weights, TUNE_BYTES)
    rng = torch.Generator().manual_seed(0)  # leaves the global RNG as it was
    inputs = {}
    for w in weights:
        k = kernel.in_features(w)
        if k not in inputs:
            inputs[k] = torch.randn(TUNE_ROWS, k, generator=rng).to(kernel.dtype)  # [rows, K]
    best = dict.fromkeys(kernel.tiles, float("inf"))
    for _ in range(TUNE_ROUNDS):
        for tile in kernel.tiles:
            kernel.select(tile)
            start = time.perf_counter()
            for w in weights:
                kernel.linear(inputs[kernel.in_features(w)], w)
            best[tile] = min(best[tile], time.perf_counter() - start)
    default, other = kernel.tiles
    chosen = other if best[other] < (1 - TUNE_MARGIN) * best[default] else default
    kernel.select(chosen)
    return chosen, best


def first_bytes(weights: Sequence[torch.Tensor], budget: int) -> list[torch.Tensor]:
    """The leading weights whose bytes first reach ``budget`` (all of them when they hold less)."""
    chosen, total = [], 0
    for w in weights:
        if total >= budget:
            break
        chosen.append(w)
        total += w.numel() * w.element_size()
    return chosen
