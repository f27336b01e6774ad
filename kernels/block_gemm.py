"""The fp32 block-layout linear of ``kernels/cpu/block_gemm.cpp``: weight packing and when it applies.

On a CPU with AVX-512 the compiled kernels include ``block_linear``, which multiplies fp32 rows by a weight
packed as ``[N/16, K, 16]`` (16 output columns of one k per 64-byte line). It reads a decode step's weights
at 1.2-1.3x the rate of oneDNN's packed matmul and ties it on 512-row prefill chunks (PERFORMANCE.md,
fourteenth pass). On AVX2 it is not built: ``block_weight`` returns ``None`` and the linear keeps oneDNN.
"""

from __future__ import annotations

import functools

import torch

from kernels.cpu_ext import cpu_ops

COLUMNS = 16  # output columns per packed block


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
