"""The fp32 block-layout linear of ``kernels/cpu/block_gemm.cpp``: weight packing and when it applies.

On a CPU with AVX-512 the compiled kernels include ``block_linear``, which multiplies fp32 rows by a weight
packed as ``[N/16, K, 16]`` (16 output columns of one k per 64-byte line). It reads a decode step's weights
at 1.2-1.3x the rate of oneDNN's packed matmul and ties it on 512-row prefill chunks (PERFORMANCE.md,
fourteenth pass). On AVX2 it is not built: ``block_weight`` returns ``None`` and the linear keeps oneDNN.

The kernel has two tiles whose results agree bit for bit (each output sums its k in one order): 14 rows x 2
column blocks and 16 x 1. Which is faster differs between hosts (16 x 1 by ~14 % at 16 rows from memory on
a Zen 4 host, 14 x 2 on a Zen 5 one: PERFORMANCE.md, seventeenth pass), so the engine times both on the
model's own weights once it is packed and keeps the faster (``kernels.tile_tuning.tune(KERNEL, weights)``).
"""

from __future__ import annotations

import functools

import torch

from kernels.cpu_ext import cpu_ops
from kernels.tile_tuning import TiledKernel

COLUMNS = 16  # output columns per packed block
TILES = ("14x2", "16x1")  # set_block_tile's 0 and 1


@functools.cache
def available() -> bool:
    """Whether ``block_linear`` is built on this host (AVX-512)."""
    ops = cpu_ops()
    return ops is not None and ops.has_block_gemm()


def block_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight [N, K]`` fp32 packed as ``[N/16, K, 16]`` for ``block_linear``, or ``None`` where the kernel is
    not built, the weight is not a CPU fp32 one, or N % 16."""
    n, k = weight.shape
    if weight.dtype != torch.float32 or weight.device.type != "cpu" or n % COLUMNS or not available():
        return None
    return weight.detach().view(n // COLUMNS, COLUMNS, k).transpose(1, 2).contiguous()  # [N/16, K, 16]


def block_linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """``x [M, K] @ W^T`` -> a new ``[M, N]`` fp32 tensor, with ``packed = block_weight(W)``."""
    return cpu_ops().block_linear(x, packed)


def set_tile(tile: str) -> None:
    """Make ``block_linear`` use ``tile`` (one of ``TILES``), process-wide."""
    cpu_ops().set_block_tile(TILES.index(tile))


KERNEL = TiledKernel(TILES, set_tile, block_linear, torch.float32, lambda packed: packed.shape[1])
