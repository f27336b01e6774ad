"""The torch reference ops against an independent fp64 per-adapter loop, and the step metadata."""

from __future__ import annotations

import pytest
import torch
from lora_cases import BATCH_SHAPES, Problem, make_problem, naive_delta, run_ops, tolerance

from kernels import reference as ref
from kernels.metadata import LoRAMetadata, Segment


def run_reference(p: Problem, decode: bool) -> torch.Tensor:
    """y after the reference shrink + expand (BGMV rows when ``decode``, else SGMV segments)."""
    return run_ops(p, decode, ref, ref)


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("rank", [4, 8, 16, 32])
@pytest.mark.parametrize("decode", [True, False], ids=["bgmv", "sgmv"])
def test_reference_matches_naive_loop(shape: str, rank: int, decode: bool) -> None:
    p = make_problem(dtype=torch.float32, rank=rank, num_adapters=1 + rank % 7, shape=shape, decode=decode,
                     seed=rank)
    expected = p.y.double() + naive_delta(p)
    torch.testing.assert_close(run_reference(p, decode).double(), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_reference_half_precision(dtype: torch.dtype) -> None:
    p = make_problem(dtype=dtype, rank=8, num_adapters=3, shape="uniform", decode=False)
    expected = (p.y.double() + naive_delta(p)).to(dtype)
    torch.testing.assert_close(run_reference(p, decode=False), expected, **tolerance(dtype))


def test_rows_without_adapter_are_untouched() -> None:
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=2, shape="uniform", decode=True, num_seqs=12)
    free = p.meta.token_slots < 0
    assert free.any(), "the case must contain rows without an adapter"
    assert torch.equal(run_reference(p, decode=True)[free], p.y[free])


def test_metadata_segments_merge_runs_and_skip_base() -> None:
    meta = LoRAMetadata.build([3, 2, 1, 4, 1], [1, 1, -1, 0, 0], [1.0, 1.0, 1.0, 0.5, 1.0])
    assert meta.segments == [Segment(0, 5, 1, 1.0), Segment(6, 10, 0, 0.5), Segment(10, 11, 0, 1.0)]
    assert meta.seg_starts.tolist() == [0, 6, 10] and meta.seg_lens.tolist() == [5, 4, 1]
    assert meta.token_slots.tolist() == [1, 1, 1, 1, 1, -1, 0, 0, 0, 0, 0]
    assert meta.max_seg_len == 5 and not meta.is_decode and meta.has_lora


def test_metadata_refill_reuses_buffers() -> None:
    meta = LoRAMetadata.allocate(max_tokens=8, max_segments=4)
    buffers = (meta.token_slots_buf.data_ptr(), meta.seg_buf.data_ptr())
    meta.fill([4, 4], [0, 1], [1.0, 1.0])
    meta.fill([1, 1, 1], [-1, -1, -1], [1.0, 1.0, 1.0])
    assert (meta.token_slots_buf.data_ptr(), meta.seg_buf.data_ptr()) == buffers
    assert meta.is_decode and not meta.has_lora and meta.num_tokens == 3


@pytest.mark.parametrize("args, message", [
    (([1, 2], [0], [1.0]), "differ in length"),
    (([1], [-2], [1.0]), "slots >= -1"),
    (([9], [0], [1.0]), "overflow"),
])
def test_metadata_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoRAMetadata.allocate(max_tokens=8, max_segments=4).fill(*args)
