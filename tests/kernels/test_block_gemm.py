"""The fp32 block-layout linear (kernels/cpu/block_gemm.cpp) against torch's fp32 matmul, on AVX-512 hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tile_cases import outputs_of_each_tile

from kernels.block_gemm import KERNEL, TILES, available, block_linear, block_weight, set_tile
from kernels.cpu_ext import cpu_ops
from kernels.tile_tuning import tune

ops = cpu_ops()
pytestmark = pytest.mark.skipif(not available(), reason="the block kernel runs only on AVX-512 hosts")


@pytest.fixture(params=TILES)
def tile(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each of the kernel's tiles in turn; the default (14 x 2) is set again afterwards."""
    set_tile(request.param)
    yield request.param
    set_tile(TILES[0])


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("rows", [1, 2, 13, 14, 15, 16, 17, 29, 33, 130])
@pytest.mark.parametrize(("n", "k"), [(16, 1), (48, 7), (208, 64), (960, 576), (576, 1536)])
def test_equals_torch_matmul(rows: int, n: int, k: int, threads: int, tile: str) -> None:
    """Passes of 14 (or 16) rows and their remainders; pairs of column blocks and an odd block left after them
    (or single blocks); runs of eight blocks split between threads."""
    torch.manual_seed(rows * n + k)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, w = torch.randn(rows, k), torch.randn(n, k)
        y = block_linear(x, block_weight(w))
    finally:
        torch.set_num_threads(before)
    ref = (x.double() @ w.double().T).float()  # [rows, n]
    torch.testing.assert_close(y, ref, atol=1e-5 * k**0.5, rtol=1e-5)


@pytest.mark.parametrize("rows", [5, 14, 16, 17, 30, 512])
def test_the_tiles_agree_bit_for_bit(rows: int) -> None:
    """What makes tuning safe: each output sums its k in the same order whatever the tile."""
    torch.manual_seed(rows)
    x, packed = torch.randn(rows, 576), block_weight(torch.randn(1104, 576))
    first, second = outputs_of_each_tile(KERNEL, x, packed)
    assert torch.equal(first, second)


def test_tune_sets_one_of_the_tiles_and_reports_both() -> None:
    weights = [block_weight(torch.randn(n, k)) for n, k in [(960, 576), (576, 1536)]]
    chosen, best = tune(KERNEL, weights)
    row = torch.randn(16, 576)
    tuned = block_linear(row, weights[0])
    set_tile(TILES[0])
    assert chosen in TILES and set(best) == set(TILES) and all(0 < seconds < 1 for seconds in best.values())
    assert torch.equal(tuned, block_linear(row, weights[0]))


def test_an_unknown_tile_is_refused() -> None:
    with pytest.raises(RuntimeError, match="block tile"):
        ops.set_block_tile(2)
    with pytest.raises(ValueError):
        set_tile("8x3")


def test_non_contiguous_rows_are_read_in_order() -> None:
    x, packed = torch.randn(8, 64), block_weight(torch.randn(32, 64))
    torch.testing.assert_close(block_linear(x[::2], packed), block_linear(x[::2].contiguous(), packed))


def test_weights_it_cannot_take() -> None:
    assert block_weight(torch.randn(16, 8).bfloat16()) is None  # bf16: the pair kernel's
    assert block_weight(torch.randn(24, 8)) is None  # N not a multiple of 16


def test_bad_shapes_are_refused() -> None:
    packed = block_weight(torch.randn(32, 64))
    with pytest.raises(RuntimeError, match="block_linear shapes"):
        ops.block_linear(torch.randn(2, 60), packed)
    with pytest.raises(RuntimeError, match="float32"):
        ops.block_linear(torch.randn(2, 64).bfloat16(), packed)
