"""The fused CPU multi-LoRA kernel (kernels/cpu/lora.cpp) against the reference ops (the spec)."""

from __future__ import annotations

import pytest
import torch
from lora_cases import BATCH_SHAPES, make_problem, tolerance
from test_lora_reference import run_reference

from kernels import LoRAMetadata, add_lora
from kernels.cpu_ext import cpu_ops
from kernels.metadata import LONG_RUN

pytestmark = pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("rank", [1, 4, 5, 8, 12, 16, 32, 64])
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
    """Up to 16 slots, decode batches up to 40 rows."""
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=num_adapters, shape="uniform", decode=True,
                     num_seqs=num_seqs, hidden=48, slices=(32, 16, 16), seed=num_seqs)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, run_reference(p, True), **tolerance(torch.float32))


def _expected(x, a, b, y, offsets, lengths, parts) -> torch.Tensor:
    """fp64 oracle: each sequence's rows get every (slot, scale) adapter's delta, slice by slice."""
    out, rank, start = y.double().clone(), b.shape[2], 0
    for n, adapters in zip(lengths, parts):
        rows = slice(start, start + n)
        for slot, scale in adapters:
            for i, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
                shrunk = x[rows].double() @ a[slot, i * rank:(i + 1) * rank].double().T
                out[rows, lo:hi] += scale * shrunk @ b[slot, lo:hi].double().T
        start += n
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_long_prefill_runs_take_gemms_beside_the_kernels_rows(dtype: torch.dtype) -> None:
    """A step mixing long prefill chunks (one blended), short ones, decode rows and a row without adapter."""
    gen = torch.Generator().manual_seed(5)
    lengths = [LONG_RUN + 5, 1, 7, LONG_RUN, 1, 1]
    slots, scales = [1, 0, 2, 0, -1, 2], [0.7, 1.0, 1.5, 1.2, 0.0, 0.3]
    extra = [(), (), (), ((2, 0.5),), (), ()]  # the second long chunk blends slot 2 in at weight 0.5
    rank, hidden, offsets = 8, 40, (0, 32, 48, 64)
    x = torch.randn(sum(lengths), hidden, generator=gen).to(dtype)
    a = (torch.randn(3, 3 * rank, hidden, generator=gen) * 0.3).to(dtype)
    b = (torch.randn(3, offsets[-1], rank, generator=gen) * 0.3).to(dtype)
    y = torch.randn(sum(lengths), offsets[-1], generator=gen).to(dtype)
    meta = LoRAMetadata.allocate(sum(lengths), len(lengths), max_components=2)
    meta.fill(lengths, slots, scales, extra)
    assert [(r.start, r.end, r.slot) for r in meta.long_runs] == [
        (0, LONG_RUN + 5, 1), (LONG_RUN + 13, 2 * LONG_RUN + 13, 0), (LONG_RUN + 13, 2 * LONG_RUN + 13, 2)]
    assert int(meta.groups.tokens.numel()) == 1 + 7 + 1  # the short ones stay with the kernel
    parts = [[(s, c), *more] if s >= 0 else [] for s, c, more in zip(slots, scales, extra)]
    expected = _expected(x, a, b, y, offsets, lengths, parts).to(dtype)
    add_lora(y, x, a, b, meta, offsets)
    # bf16 GEMMs round the shrink to bf16 (the kernel and the oracle keep it in fp32)
    tol = tolerance(dtype) if dtype == torch.float32 else dict(atol=5e-2, rtol=2e-2)
    torch.testing.assert_close(y, expected, **tol)


@pytest.mark.parametrize(("dtype", "held"), [(torch.float32, 4), (torch.bfloat16, 4), (torch.bfloat16, 3)],
                         ids=["fp32-rank4", "bf16-rank4", "bf16-rank3"])
def test_slot_ranks_skip_padding_exactly(dtype: torch.dtype, held: int) -> None:
    """A slot holding a rank-4 (or odd rank-3) adapter in rank-16 stacks: skipping the padded rows changes
    nothing (rows past the rank hold garbage shrink results, which must never be read)."""
    p = make_problem(dtype=dtype, rank=16, num_adapters=2, shape="distinct", decode=True, num_seqs=6)
    rank = 16
    for i in range(len(p.offsets) - 1):  # zero the padded rows/columns as the pool does
        p.a[:, i * rank + held:(i + 1) * rank] = 0
    p.b[:, :, held:] = 0
    expected = run_reference(p, True)
    p.meta.slot_ranks = torch.tensor([held, held])
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, expected, **tolerance(dtype))


def test_zero_scale_and_rows_without_adapter_are_untouched() -> None:
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=3, shape="uniform", decode=True, num_seqs=12)
    free = p.meta.token_slots < 0
    assert free.any()
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    assert torch.equal(y[free], p.y[free])


@pytest.mark.parametrize("blend", [False, True], ids=["single", "blended"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_a_step_big_enough_for_two_threads(blend: bool, dtype: torch.dtype) -> None:
    """The model's qkv shape, 40 decode rows over 9 slots (groups of 1 to 8 rows: tiles of 1-4 entries),
    on two threads; blended rows put one token in two groups, so those tiles must not race."""
    gen = torch.Generator().manual_seed(11)
    rank, hidden, offsets = 8, 576, (0, 576, 768, 960)
    groups = [1, 2, 3, 4, 5, 6, 7, 8, 4]  # rows per slot, 40 in all
    slots = [s for s, n in enumerate(groups) for _ in range(n)]
    scales = [0.5 + 0.1 * (i % 7) for i in range(len(slots))]
    extra = [((8 - s, 0.4),) if blend and i % 3 == 0 and s != 4 else () for i, s in enumerate(slots)]
    x = torch.randn(len(slots), hidden, generator=gen).to(dtype)
    a = (torch.randn(len(groups), 3 * rank, hidden, generator=gen) * 0.05).to(dtype)
    b = (torch.randn(len(groups), offsets[-1], rank, generator=gen) * 0.05).to(dtype)
    y = torch.randn(len(slots), offsets[-1], generator=gen).to(dtype)
    meta = LoRAMetadata.allocate(len(slots), len(slots), max_components=2)
    meta.fill([1] * len(slots), slots, scales, extra)
    parts = [[(s, c), *more] for s, c, more in zip(slots, scales, extra)]
    expected = _expected(x, a, b, y, offsets, [1] * len(slots), parts).to(dtype)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        add_lora(y, x, a, b, meta, offsets)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(y, expected, **tolerance(dtype))
