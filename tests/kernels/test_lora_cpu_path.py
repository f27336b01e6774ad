"""The CPU torch fallback paths of ``kernels.add_lora`` (slot grid, segment loop) against the reference ops.

They run where the compiled kernels could not be built; the compiled kernel has its own tests
(tests/kernels/test_lora_cpu_kernel.py).
"""

from __future__ import annotations

import pytest
import torch
from lora_cases import BATCH_SHAPES, make_problem, naive_delta, tolerance
from test_lora_reference import run_reference

from kernels import add_lora
from kernels.metadata import LoRAMetadata, slot_grid
from kernels.torch_path import grid_lora, segment_lora


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_cpu_path_matches_reference(shape: str, decode: bool, dtype: torch.dtype) -> None:
    p = make_problem(dtype=dtype, rank=8, num_adapters=5, shape=shape, decode=decode, num_seqs=9)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, run_reference(p, decode), **tolerance(dtype))


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("path", ["grid", "segments"])
def test_both_cpu_paths_match_reference(shape: str, path: str) -> None:
    p = make_problem(dtype=torch.float32, rank=16, num_adapters=6, shape=shape, decode=False, num_seqs=7, seed=3)
    y = p.y.clone()
    if path == "grid":
        grid = slot_grid(p.meta.token_slots.tolist(), p.meta.token_scales.tolist())
        if grid is None:  # mostly padding: build it anyway, the result must not depend on the choice
            grid = _force_grid(p.meta)
        grid_lora(y, p.x, p.a, p.b, grid, p.offsets)
    else:
        segment_lora(y, p.x, p.a, p.b, p.meta.segments, p.offsets)
    torch.testing.assert_close(y, run_reference(p, False), **tolerance(torch.float32))


def _force_grid(meta: LoRAMetadata):
    import kernels.metadata as metadata

    waste, metadata.MAX_GRID_WASTE = metadata.MAX_GRID_WASTE, 10**9
    try:
        return slot_grid(meta.token_slots.tolist(), meta.token_scales.tolist())
    finally:
        metadata.MAX_GRID_WASTE = waste


def test_grid_groups_tokens_per_slot() -> None:
    grid = slot_grid([2, -1, 4, 2, 2], [0.5, 1.0, 1.0, 1.5, 1.0])
    assert (grid.first_slot, grid.num_slots, grid.rows) == (2, 3, 3)
    assert grid.index.tolist() == [0, 3, 4, 0, 0, 0, 2, 0, 0]
    assert grid.scale.flatten().tolist() == [0.5, 1.5, 1.0, 0, 0, 0, 1.0, 0, 0]


def test_long_prefill_falls_back_to_segments() -> None:
    meta = LoRAMetadata.build([40, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 5], [1.0] * 6)
    assert meta.grid is None and len(meta.segments) == 6


def test_cpu_path_single_slice_against_naive() -> None:
    p = make_problem(dtype=torch.float32, rank=16, num_adapters=8, shape="zipf", decode=False, slices=(40,))
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y.double(), p.y.double() + naive_delta(p), atol=1e-4, rtol=1e-5)


def test_no_adapter_step_leaves_y_alone() -> None:
    p = make_problem(dtype=torch.float32, rank=4, num_adapters=2, shape="identical", decode=True)
    p.meta.fill([1] * 6, [-1] * 6, [1.0] * 6)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    assert torch.equal(y, p.y)


def test_token_count_mismatch_is_named() -> None:
    p = make_problem(dtype=torch.float32, rank=4, num_adapters=2, shape="identical", decode=True)
    with pytest.raises(ValueError, match="describes 6 tokens but the layer got 5"):
        add_lora(p.y[:5], p.x[:5], p.a, p.b, LoRAMetadata.build([1] * 6, [0] * 6, [1.0] * 6), p.offsets)
