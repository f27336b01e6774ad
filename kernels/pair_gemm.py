"""The bf16 pair-layout linear of ``kernels/cpu/pair_gemm.cpp``: weight packing and when it applies.

On a CPU with AVX512-BF16 the compiled kernels include ``pair_linear``, which multiplies bf16 rows by a
weight packed as ``[N/16, K/2, 32]`` (16 output columns x 2 k per 64-byte line) with ``vdpbf16ps``.
Where the CPU has AMX, oneDNN's tiles are the faster path, and on AVX2 there is no such instruction:
there ``pair_weight`` returns ``None`` and the linear keeps oneDNN's packed path.

The kernel has two tiles whose results agree bit for bit (each output sums its k pairs in one order):
4 rows x 6 column blocks, and 8 x 3 from 8 rows up. Which is faster differs between hosts (4 x 6 by ~10 %
on a Zen 5 host, 8 x 3 by ~8 % on a Zen 4 one, 16 rows from memory: PERFORMANCE.md, fifteenth pass), so
the engine times both on the model's own weights once it is packed and keeps the faster
(``kernels.tile_tuning.tune(KERNEL, weights)``).
"""

from __future__ import annotations

import functools

import torch

from kernels.cpu_ext import cpu_ops, fast_bf16_flag
from kernels.tile_tuning import TiledKernel

COLUMNS = 16  # output columns per packed block
TILES = ("4x6", "8x3")  # set_pair_tile's 0 and 1


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


KERNEL = TiledKernel(TILES, set_tile, pair_linear, torch.bfloat16, lambda packed: 2 * packed.shape[1])
