"""The bf16 pair-layout linear of ``kernels/cpu/pair_gemm.cpp``: weight packing and when it applies.

On a CPU with AVX512-BF16 the compiled kernels include ``pair_linear``, which multiplies bf16 rows by a
weight packed as ``[N/16, K/2, 32]`` (16 output columns x 2 k per 64-byte line) with ``vdpbf16ps``.
Where the CPU has AMX, oneDNN's tiles are the faster path, and on AVX2 there is no such instruction:
there ``pair_weight`` returns ``None`` and the linear keeps oneDNN's packed path.

The kernel has two tiles whose results agree bit for bit (each output sums its k pairs in one order):
4 rows x 6 column blocks, and 8 x 3 from 8 rows up. Which is faster differs between hosts (4 x 6 by ~10 %
on a Zen 5 host, 8 x 3 by ~8 % on a Zen 4 one, 16 rows from memory: PERFORMANCE.md, fifteenth pass), so
:func:`tune` times both on the model's own weights once it is packed and keeps the faster.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import torch

from kernels.cpu_ext import cpu_ops, fast_bf16_flag

COLUMNS = 16  # output columns per packed block
TILES = ("4x6", "8x3")  # set_pair_tile's 0 and 1
TUNE_ROWS = 16  # a decode batch: where the tiles differ
TUNE_ROUNDS = 5  # passes over the weights per tile, alternated; the best counts
TUNE_MARGIN = 0.03  # 8 x 3 must be this much faster to replace the default
TUNE_BYTES = 128 << 20  # weights timed: well past an L3, so read from memory as in decode; bounded for big models


@functools.cache
def available() -> bool:
    """Whether ``pair_linear`` is this host's fast bf16 path: built (AVX512-BF16) and no AMX."""
    ops = cpu_ops()
    return ops is not None and ops.has_pair_gemm() and fast_bf16_flag() == "avx512_bf16"


def pair_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight [N, K]`` bf16 packed as ``[N/16, K/2, 32]`` for ``pair_linear``, or ``None`` where the kernel is
    not this host's fast path (see :func:`available`), the weight is not a CPU bf16 one, or N % 16 or K is odd."""
    n, k = weight.shape
    if weight.dtype != torch.bfloat16 or weight.device.type != "cpu" or n % COLUMNS or k % 2 or not available():
        return None
    blocks = weight.detach().view(n // COLUMNS, COLUMNS, k // 2, 2)  # [N/16, 16, K/2, 2]
    return blocks.permute(0, 2, 1, 3).reshape(n // COLUMNS, k // 2, 2 * COLUMNS).contiguous()  # [N/16, K/2, 32]


def pair_linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """``x [M, K] @ W^T`` -> a new ``[M, N]`` bf16 tensor, with ``packed = pair_weight(W)``."""
    return cpu_ops().pair_linear(x, packed)


def set_tile(tile: str) -> None:
    """Make ``pair_linear`` use ``tile`` (one of ``TILES``) from 8 rows up, process-wide."""
    cpu_ops().set_pair_tile(TILES.index(tile))


def tune(weights: Sequence[torch.Tensor]) -> tuple[str, dict[str, float]]:
    """Time ``TUNE_ROWS`` rows through the packed weights (``pair_weight`` results; the first ``TUNE_BYTES`` of
    them) with each tile, alternated, set the faster (4 x 6 unless 8 x 3 wins by ``TUNE_MARGIN``) and return it
    with each tile's best seconds a pass."""
    weights = _first_bytes(weights, TUNE_BYTES)
    rng = torch.Generator().manual_seed(0)  # leaves the global RNG as it was
    inputs = {w.shape[1]: torch.randn(TUNE_ROWS, 2 * w.shape[1], generator=rng).bfloat16() for w in weights}
    best = dict.fromkeys(TILES, float("inf"))
    for _ in range(TUNE_ROUNDS):
        for tile in TILES:
            set_tile(tile)
            start = time.perf_counter()
            for w in weights:
                pair_linear(inputs[w.shape[1]], w)
            best[tile] = min(best[tile], time.perf_counter() - start)
    chosen = TILES[1] if best[TILES[1]] < (1 - TUNE_MARGIN) * best[TILES[0]] else TILES[0]
    set_tile(chosen)
    return chosen, best


def _first_bytes(weights: Sequence[torch.Tensor], budget: int) -> list[torch.Tensor]:
    """The leading weights whose bytes first reach ``budget`` (all of them when they hold less)."""
    chosen, total = [], 0
    for w in weights:
        if total >= budget:
            break
        chosen.append(w)
        total += w.numel() * w.element_size()
    return chosen
