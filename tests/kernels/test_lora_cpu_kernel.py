"""The fused CPU multi-LoRA kernel (kernels/cpu/lora.cpp) against the reference ops (the spec)."""

from __future__ import annotations

import pytest
import torch
from lora_cases import BATCH_SHAPES, make_problem, tolerance
from test_lora_reference import run_reference

from kernels import add_lora
from kernels.cpu_ext import cpu_ops

pytestmark = pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("rank", [4, 8, 12, 16, 32, 64])
def test_kernel_matches_reference(shape: str, decode: bool, dtype: torch.dtype, rank: int) -> None:
    p = make_problem(dtype=dtype, rank=rank, num_adapters=1 + rank % 5, shape=shape, decode=decode,
                     num_seqs=11, seed=rank)
    assert p.meta.groups is not None, "on the CPU with kernels built the metadata must carry slot groups"
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, run_reference(p, decode), **tolerance(dtype))


@pytest.mark.parametrize("num_adapters", [1, 2, 7, 16])
@pytest.mark.parametrize("num_seqs", [1, 16, 40])
def test_slots_and_batch_sizes(num_adapters: int, num_seqs: int) -> None:
    """Up to 16 slots, decode batches up to 40 rows (large groups take the matmul path)."""
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=num_adapters, shape="uniform", decode=True,
                     num_seqs=num_seqs, hidden=48, slices=(32, 16, 16), seed=num_seqs)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, run_reference(p, True), **tolerance(torch.float32))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_long_prefill_segments_take_the_matmul_path(dtype: torch.dtype) -> None:
    p = make_problem(dtype=dtype, rank=16, num_adapters=3, shape="identical", decode=False, num_seqs=12,
                     hidden=64, slices=(64, 128), seed=9)
    assert int(p.meta.groups.starts[1]) >= 24  # one group above the kernel's matmul threshold
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    # bf16 matmuls round the shrink and the expand outputs to bf16 (the reference keeps them fp32)
    tol = tolerance(dtype) if dtype == torch.float32 else dict(atol=5e-2, rtol=2e-2)
    torch.testing.assert_close(y, run_reference(p, False), **tol)


def test_slot_ranks_skip_padding_exactly() -> None:
    """A slot holding a rank-4 adapter in rank-16 stacks: skipping rows 4..15 changes nothing."""
    p = make_problem(dtype=torch.float32, rank=16, num_adapters=2, shape="distinct", decode=True, num_seqs=6)
    rank = 16
    for i in range(len(p.offsets) - 1):  # zero the padded rows/columns as the pool does
        p.a[:, i * rank + 4:(i + 1) * rank] = 0
    p.b[:, :, 4:] = 0
    expected = run_reference(p, True)
    p.meta.slot_ranks = torch.tensor([4, 4])
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, expected, **tolerance(torch.float32))


def test_zero_scale_and_rows_without_adapter_are_untouched() -> None:
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=3, shape="uniform", decode=True, num_seqs=12)
    free = p.meta.token_slots < 0
    assert free.any()
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    assert torch.equal(y[free], p.y[free])
