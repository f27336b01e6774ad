"""The bf16 pair-layout linear (kernels/cpu/pair_gemm.cpp) against an fp32 matmul, on AVX512-BF16 hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tile_cases import outputs_of_each_tile

from kernels.cpu_ext import cpu_ops
from kernels.pair_gemm import KERNEL, TILES, available, pair_linear, pair_weight, set_tile
from kernels.tile_tuning import tune

ops = cpu_ops()
pytestmark = pytest.mark.skipif(not available(), reason="the pair kernel runs only on AVX512-BF16 hosts without AMX")
# bf16 output: the kernel rounds its fp32 sums once, so it is within one bf16 step (2^-8 relative) of the
# fp32 product rounded to bf16, plus fp32 summation-order differences (relative to |y| + 1)
TOL = 2**-7


@pytest.fixture(params=TILES)
def tile(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each of the kernel's tiles in turn; the default (4 x 6) is set again afterwards."""
    set_tile(request.param)
    yield request.param
    set_tile(TILES[0])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows", [1, 3, 4, 5, 8, 11, 16, 17, 33, 130])
@pytest.mark.parametrize(("n", "k"), [(16, 2), (112, 34), (208, 64), (960, 576), (576, 1536)])
def test_equals_an_fp32_matmul(rows: int, n: int, k: int, threads: int, tile: str) -> None:
    """Row tiles of 4 (or 8) and their remainders; groups of 6 (or 3) column blocks and the blocks left after."""
    torch.manual_seed(rows * n + k)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, w = torch.randn(rows, k).bfloat16(), torch.randn(n, k).bfloat16()
        y = pair_linear(x, pair_weight(w)).float()
    finally:
        torch.set_num_threads(before)
    ref = (x.float() @ w.float().T).bfloat16().float()  # [rows, n]
    assert ((y - ref).abs() / (ref.abs() + 1)).max() <= TOL


@pytest.mark.parametrize("rows", [7, 8, 16, 21, 64])
def test_the_tiles_agree_bit_for_bit(rows: int) -> None:
    """What makes tuning safe: each output sums its k pairs in the same order whatever the tile."""
    torch.manual_seed(rows)
    x, packed = torch.randn(rows, 576).bfloat16(), pair_weight(torch.randn(1104, 576).bfloat16())
    first, second = outputs_of_each_tile(KERNEL, x, packed)
    assert torch.equal(first, second)


def test_tune_sets_one_of_the_tiles_and_reports_both() -> None:
    weights = [pair_weight(torch.randn(n, k).bfloat16()) for n, k in [(960, 576), (576, 1536)]]
    state = torch.get_rng_state()
    chosen, best = tune(KERNEL, weights)
    set_tile(TILES[0])
    assert chosen in TILES and set(best) == set(TILES) and all(0 < seconds < 1 for seconds in best.values())
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left as it was


def test_an_unknown_tile_is_refused() -> None:
    with pytest.raises(RuntimeError, match="pair tile"):
        ops.set_pair_tile(2)
    with pytest.raises(ValueError):
        set_tile("16x1")


def test_non_contiguous_rows_are_read_in_order() -> None:
    x, w = torch.randn(8, 64).bfloat16(), torch.randn(32, 64).bfloat16()
    torch.testing.assert_close(pair_linear(x[::2], pair_weight(w)), pair_linear(x[::2].contiguous(), pair_weight(w)))


def test_weights_it_cannot_take() -> None:
    assert pair_weight(torch.randn(16, 8)) is None  # fp32
    assert pair_weight(torch.randn(24, 8).bfloat16()) is None  # N not a multiple of 16
    assert pair_weight(torch.randn(16, 7).bfloat16()) is None  # odd K


def test_bad_shapes_are_refused() -> None:
    packed = pair_weight(torch.randn(32, 64).bfloat16())
    with pytest.raises(RuntimeError, match="pair_linear shapes"):
        ops.pair_linear(torch.randn(2, 60).bfloat16(), packed)
    with pytest.raises(RuntimeError, match="bfloat16"):
        ops.pair_linear(torch.randn(2, 64), packed)
