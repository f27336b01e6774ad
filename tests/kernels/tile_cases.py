"""Shared by the tiled GEMM tests (pair and block layouts): run one input through every tile of a kernel."""

from __future__ import annotations

import torch

from kernels.tile_tuning import TiledKernel


def outputs_of_each_tile(kernel: TiledKernel, x: torch.Tensor, packed: torch.Tensor) -> list[torch.Tensor]:
    """``kernel.linear(x, packed)`` with each of its tiles selected in turn; the default is selected after."""
    outputs = []
    for name in kernel.tiles:
        kernel.select(name)
        outputs.append(kernel.linear(x, packed))
    kernel.select(kernel.tiles[0])
    return outputs
