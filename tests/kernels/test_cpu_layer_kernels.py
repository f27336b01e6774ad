"""The compiled CPU layer kernels (kernels/cpu) against the eager torch model's own functions."""

from __future__ import annotations

import pytest
import torch

from engine.attention import _block_slots, _decode_sdpa, _gather_keys, _gather_values, _prefill, store_kv
from engine.model import RMSNorm, apply_rope
from kernels.cpu_ext import cpu_ops

DTYPES = [torch.float32, torch.bfloat16]
# fp32: float reassociation only; bf16: one rounding of the stored value (values near 1)
TOL = {torch.float32: dict(atol=2e-5, rtol=2e-5), torch.bfloat16: dict(atol=1.6e-2, rtol=1.6e-2)}


@pytest.fixture(scope="module")
def ops():
    module = cpu_ops()
    assert module is not None, "the CPU kernels must build on this machine (see kernels/cpu_ext.py)"
    return module


def _rand(*shape: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def threads(request: pytest.FixtureRequest):
    """Run the test at this many torch threads (the kernels split their rows, or their work by cost, between them)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 16, 300])
def test_rms_norm_matches_module(ops, threads: int, dtype: torch.dtype, rows: int) -> None:
    norm = RMSNorm(96, 1e-5).to(dtype)
    norm.weight.data = _rand(96, dtype=dtype, seed=1)
    x = _rand(rows, 96, dtype=dtype)
    out = torch.empty_like(x)
    ops.rms_norm(out, x, norm.weight.data, norm.eps)
    torch.testing.assert_close(out, norm(x), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_rms_norm_updates_the_residual(ops, threads: int, dtype: torch.dtype) -> None:
    norm = RMSNorm(64, 1e-6).to(dtype)
    norm.weight.data = _rand(64, dtype=dtype, seed=2)
    residual, delta = _rand(200, 64, dtype=dtype), _rand(200, 64, dtype=dtype, seed=3)  # several tasks of rows
    expected_residual = residual + delta
    out, got_residual = torch.empty_like(delta), residual.clone()
    ops.add_rms_norm(out, delta, got_residual, norm.weight.data, norm.eps)
    assert torch.equal(got_residual, expected_residual)  # the same single rounding as eager
    torch.testing.assert_close(out, norm(expected_residual), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_rope_and_kv_store_match_eager(ops, dtype: torch.dtype) -> None:
    heads, kv_heads, dim, rows = 4, 2, 16, 7
    qkv = _rand(rows, (heads + 2 * kv_heads) * dim, dtype=dtype)
    positions = torch.tensor([0, 1, 2, 9, 30, 31, 5])
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    cos, sin = freqs.cos().to(dtype)[:, None, :], freqs.sin().to(dtype)[:, None, :]
    table_freqs = torch.arange(64).float()[:, None] * inv_freq[None, :]
    table = torch.cat((table_freqs.cos().to(dtype), table_freqs.sin().to(dtype)), -1).float()
    k_cache, v_cache = torch.zeros(8, kv_heads, dim, 4, dtype=dtype), torch.zeros(8, kv_heads, 4, dim, dtype=dtype)
    slots = torch.tensor([3, 4, 5, 17, 30, 31, 6])
    qk, v = qkv.split([(heads + kv_heads) * dim, kv_heads * dim], -1)
    rotated = apply_rope(qk.reshape(rows, -1, dim), cos, sin)  # eager reference
    ref_k, ref_v = k_cache.clone(), v_cache.clone()
    store_kv(rotated[:, heads:], v.reshape(rows, kv_heads, dim), ref_k, ref_v, slots)
    got = qkv.clone()
    ops.rope_and_store_kv(got, positions, table, k_cache, v_cache, slots, heads, kv_heads)
    torch.testing.assert_close(got.view(rows, -1, dim)[:, :heads + kv_heads], rotated, **TOL[dtype])
    torch.testing.assert_close(k_cache, ref_k, **TOL[dtype])
    assert torch.equal(v_cache, ref_v)


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_and_mul(ops, threads: int, dtype: torch.dtype) -> None:
    gate_up = _rand(133, 2 * 80, dtype=dtype)  # several tasks of rows
    gate, up = gate_up.chunk(2, dim=-1)
    out = gate_up.new_empty(133, 80)
    ops.silu_and_mul(out, gate_up)
    torch.testing.assert_close(out, (torch.nn.functional.silu(gate.float()) * up.float()).to(dtype), **TOL[dtype])


def _paged_cache(lens: list[int], block_size: int, kv_heads: int, dim: int, dtype: torch.dtype):
    """Caches filled at random blocks, each sequence's block table, and its keys in order."""
    blocks = sum(-(-n // block_size) for n in lens) + 3
    k_cache = _rand(blocks, kv_heads, dim, block_size, dtype=dtype, seed=5)  # keys transposed in a block
    v_cache = _rand(blocks, kv_heads, block_size, dim, dtype=dtype, seed=6)
    order = torch.randperm(blocks - 1, generator=torch.Generator().manual_seed(7)) + 1  # block 0 = padding
    tables, used = [], 0
    for n in lens:
        count = -(-n // block_size)
        tables.append(order[used:used + count].tolist())
        used += count
    width = max(len(t) for t in tables)
    return k_cache, v_cache, torch.tensor([t + [0] * (width - len(t)) for t in tables])


def _visible(q_pos: torch.Tensor, k_pos: torch.Tensor, window: int) -> torch.Tensor:
    """Causal visibility of keys ``k_pos`` from queries ``q_pos`` (broadcast), the last ``window`` only if > 0."""
    return (k_pos <= q_pos) & ((k_pos > q_pos - window) if window else True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window", [0, 5, 21])
@pytest.mark.parametrize(("dim", "block_size"), [(32, 4), (64, 16), (128, 16)], ids=["generic", "d64", "d128"])
@pytest.mark.parametrize(("heads", "kv_heads"), [(6, 2), (9, 1), (2, 2), (9, 3)],
                         ids=["group3", "group9", "group1", "group3-kv3"])
def test_paged_row_attention_matches_sdpa(ops, threads: int, dtype: torch.dtype, window: int, dim: int,
                                             block_size: int, heads: int, kv_heads: int) -> None:
    """Also the kernel's specialisations for block size 16 with head dim 64 / 128, whose query heads go
    through in chunks (of up to 4 on AVX-512, 2 on AVX2): groups of 3, 9 (4 + 4 + 1) and 1 head. At 3
    threads the split by cost ends shares inside a row, so a thread runs part of a row's KV heads."""
    lens = [1, 4, 5, 13, 40, 2, 33]
    k_cache, v_cache, tables = _paged_cache(lens, block_size, kv_heads, dim, dtype)
    q = _rand(len(lens), heads, dim, dtype=dtype, seed=8)
    k_pos = torch.arange(tables.shape[1] * block_size)[None, :]
    mask = _visible(torch.tensor(lens)[:, None] - 1, k_pos, window)  # [R, L]
    expected = _decode_sdpa(q.float(), k_cache.float(), v_cache.float(), tables, mask[:, None, None, :], 0.3)
    out = torch.empty_like(q)
    ops.paged_row_attention(out, q, k_cache, v_cache, tables, torch.tensor(lens), 0.3, window)
    torch.testing.assert_close(out, expected.to(dtype), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window", [0, 7])
@pytest.mark.parametrize(("start", "end"), [(0, 37), (19, 50), (0, 300)],
                         ids=["whole-prompt", "after-19-cached", "long"])
def test_row_attention_serves_prefill_chunks(ops, threads: int, dtype: torch.dtype, window: int, start: int,
                                             end: int) -> None:
    """Prefill rows through the row kernel (each with its sequence's table and position + 1 keys, as the
    runner passes them) equal SDPA over the chunk with the causal, sliding-window mask of the torch path,
    on one thread and on several (the rows' work, growing along the prompt, is split by cost)."""
    block_size, kv_heads, heads, dim = 16, 3, 9, 64
    k_cache, v_cache, tables = _paged_cache([end], block_size, kv_heads, dim, dtype)
    q = _rand(end - start, heads, dim, dtype=dtype, seed=9)
    slots = _block_slots(tables[0], block_size)[:end]  # [end]
    keys, values = _gather_keys(k_cache, slots).float(), _gather_values(v_cache, slots).float()  # [end, KVH, D]
    mask = _visible(torch.arange(start, end)[:, None], torch.arange(end)[None, :], window)  # [Q, end]
    expected = _prefill(q.float(), keys, values, mask, 0.3)
    out = torch.empty_like(q)
    row_tables, row_lens = tables.repeat(end - start, 1), torch.arange(start, end) + 1
    ops.paged_row_attention(out, q, k_cache, v_cache, row_tables, row_lens, 0.3, window)
    torch.testing.assert_close(out, expected.to(dtype), **TOL[dtype])


def test_decode_attention_reads_a_strided_q(ops) -> None:
    """q as a view into a wider qkv row (the fused layer's layout) gives the same result as a copy."""
    k_cache, v_cache, tables = _paged_cache([9, 3], 4, 1, 8, torch.float32)
    qkv = _rand(2, 5 * 8, dtype=torch.float32)
    q = qkv.view(2, 5, 8)[:, :3]
    lens = torch.tensor([9, 3])
    out_view, out_copy = torch.empty(2, 3, 8), torch.empty(2, 3, 8)
    ops.paged_row_attention(out_view, q, k_cache, v_cache, tables, lens, 0.5, 0)
    ops.paged_row_attention(out_copy, q.contiguous(), k_cache, v_cache, tables, lens, 0.5, 0)
    assert torch.equal(out_view, out_copy)
    assert torch.isfinite(out_view).all() and not torch.equal(out_view, torch.zeros_like(out_view))


def test_prefill_helper_is_causal() -> None:
    """Guard for the reference used above: _prefill without a mask is plain causal attention."""
    q, k, v = _rand(5, 2, 8, dtype=torch.float32), _rand(5, 2, 8, dtype=torch.float32, seed=1), _rand(5, 2, 8, dtype=torch.float32, seed=2)
    first = _prefill(q[:1], k[:1], v[:1], None, 0.5)
    torch.testing.assert_close(_prefill(q, k, v, None, 0.5)[:1], first)
