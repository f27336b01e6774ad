"""Triton BGMV: one row per token (decode), each row gathering its own adapter slot.

Same signatures and semantics as :mod:`kernels.reference`. Loads are cast to fp32 and accumulated in
fp32 (bf16 is also broken in the Triton CPU interpreter otherwise). Imported only on CUDA or in tests
with ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.checks import check_expand, check_shrink, offsets_tensor

BLOCK_K = 64
BLOCK_N = 64


@triton.jit
def _bgmv_shrink_kernel(x_ptr, a_ptr, out_ptr, slots_ptr, scales_ptr, H, RS,
                        stride_x, stride_as, stride_ar, stride_o,
                        BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr):
    t = tl.program_id(0)
    slot = tl.load(slots_ptr + t)
    if slot >= 0:
        offs_r = tl.arange(0, BLOCK_R)  # [BLOCK_R] rank rows of every slice
        acc = tl.zeros([BLOCK_R], dtype=tl.float32)
        for k0 in range(0, H, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)  # [BLOCK_K]
            xv = tl.load(x_ptr + t * stride_x + offs_k, mask=offs_k < H, other=0.0).to(tl.float32)
            a_ptrs = a_ptr + slot * stride_as + offs_r[:, None] * stride_ar + offs_k[None, :]
            a_mask = (offs_r[:, None] < RS) & (offs_k[None, :] < H)
            av = tl.load(a_ptrs, mask=a_mask, other=0.0).to(tl.float32)  # [BLOCK_R, BLOCK_K]
            acc += tl.sum(av * xv[None, :], axis=1)
        scale = tl.load(scales_ptr + t).to(tl.float32)
        tl.store(out_ptr + t * stride_o + offs_r, acc * scale, mask=offs_r < RS)


@triton.jit
def _bgmv_expand_kernel(buf_ptr, b_ptr, y_ptr, slots_ptr, offsets_ptr, R, NUM_NB,
                        stride_buf, stride_bs, stride_bn, stride_y,
                        BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):
    t = tl.program_id(0)
    sl = tl.program_id(1) // NUM_NB  # slice index (q / k / v ...)
    nb = tl.program_id(1) % NUM_NB
    slot = tl.load(slots_ptr + t)
    if slot >= 0:
        lo = tl.load(offsets_ptr + sl)
        hi = tl.load(offsets_ptr + sl + 1)
        offs_n = lo + nb * BLOCK_N + tl.arange(0, BLOCK_N)  # [BLOCK_N] output columns
        offs_r = tl.arange(0, BLOCK_R)
        mask_n = offs_n < hi
        mask_r = offs_r < R
        bufv = tl.load(buf_ptr + t * stride_buf + sl * R + offs_r, mask=mask_r, other=0.0).to(tl.float32)
        b_ptrs = b_ptr + slot * stride_bs + offs_n[:, None] * stride_bn + offs_r[None, :]
        bv = tl.load(b_ptrs, mask=mask_n[:, None] & mask_r[None, :], other=0.0).to(tl.float32)  # [N, R]
        delta = tl.sum(bv * bufv[None, :], axis=1)  # [BLOCK_N]
        y_ptrs = y_ptr + t * stride_y + offs_n
        yv = tl.load(y_ptrs, mask=mask_n, other=0.0).to(tl.float32)
        tl.store(y_ptrs, (yv + delta).to(y_ptr.dtype.element_ty), mask=mask_n)


def bgmv_shrink(
    x: torch.Tensor,
    lora_a: torch.Tensor,
    out: torch.Tensor,
    token_slots: torch.Tensor,
    token_scales: torch.Tensor,
) -> None:
    """Triton version of :func:`kernels.reference.bgmv_shrink`."""
    check_shrink(x, lora_a, out, token_scales, token_slots)
    num_tokens, hidden = x.shape
    rs = lora_a.shape[1]
    _bgmv_shrink_kernel[(num_tokens,)](
        x, lora_a, out, token_slots, token_scales, hidden, rs,
        x.stride(0), lora_a.stride(0), lora_a.stride(1), out.stride(0),
        BLOCK_R=triton.next_power_of_2(rs), BLOCK_K=BLOCK_K,
    )


def bgmv_expand(
    buf: torch.Tensor,
    lora_b: torch.Tensor,
    y: torch.Tensor,
    token_slots: torch.Tensor,
    slice_offsets: tuple[int, ...],
) -> None:
    """Triton version of :func:`kernels.reference.bgmv_expand` (all slices in one launch)."""
    check_expand(buf, lora_b, y, slice_offsets, token_slots)
    rank = lora_b.shape[2]
    widest = max(hi - lo for lo, hi in zip(slice_offsets[:-1], slice_offsets[1:]))
    num_nb = triton.cdiv(widest, BLOCK_N)
    grid = (buf.shape[0], num_nb * (len(slice_offsets) - 1))
    _bgmv_expand_kernel[grid](
        buf, lora_b, y, token_slots, offsets_tensor(slice_offsets, y.device), rank, num_nb,
        buf.stride(0), lora_b.stride(0), lora_b.stride(1), y.stride(0),
        BLOCK_R=triton.next_power_of_2(rank), BLOCK_N=BLOCK_N,
    )
