"""Triton SGMV: segments of consecutive tokens sharing one adapter slot (prefill), blocked matmuls.

Same signatures and semantics as :mod:`kernels.reference`. Loads are cast to fp32, dots run in IEEE
fp32 and accumulate in fp32. Imported only on CUDA or in tests with ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.checks import check_expand, check_shrink, offsets_tensor

BLOCK_M = 16
BLOCK_K = 32
BLOCK_N = 64


@triton.jit
def _sgmv_shrink_kernel(x_ptr, a_ptr, out_ptr, starts_ptr, lens_ptr, slots_ptr, scales_ptr, H, RS,
                        stride_x, stride_as, stride_ar, stride_o,
                        BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr):
    g = tl.program_id(0)
    mb = tl.program_id(1)
    length = tl.load(lens_ptr + g)
    if mb * BLOCK_M < length:
        start = tl.load(starts_ptr + g)
        slot = tl.load(slots_ptr + g)
        local_m = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        mask_m = local_m < length
        offs_m = start + local_m  # [BLOCK_M] token rows
        offs_r = tl.arange(0, BLOCK_R)  # [BLOCK_R] rank rows of every slice
        acc = tl.zeros([BLOCK_M, BLOCK_R], dtype=tl.float32)
        for k0 in range(0, H, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            x_ptrs = x_ptr + offs_m[:, None] * stride_x + offs_k[None, :]
            xv = tl.load(x_ptrs, mask=mask_m[:, None] & (offs_k[None, :] < H), other=0.0).to(tl.float32)
            a_ptrs = a_ptr + slot * stride_as + offs_r[None, :] * stride_ar + offs_k[:, None]
            av = tl.load(a_ptrs, mask=(offs_r[None, :] < RS) & (offs_k[:, None] < H), other=0.0).to(tl.float32)
            acc += tl.dot(xv, av, input_precision="ieee")  # [M, K] @ [K, R]
        scales = tl.load(scales_ptr + offs_m, mask=mask_m, other=0.0).to(tl.float32)
        out_ptrs = out_ptr + offs_m[:, None] * stride_o + offs_r[None, :]
        tl.store(out_ptrs, acc * scales[:, None], mask=mask_m[:, None] & (offs_r[None, :] < RS))


@triton.jit
def _sgmv_expand_kernel(buf_ptr, b_ptr, y_ptr, starts_ptr, lens_ptr, slots_ptr, offsets_ptr, R, NUM_NB,
                        stride_buf, stride_bs, stride_bn, stride_y,
                        BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):
    g = tl.program_id(0)
    mb = tl.program_id(1)
    sl = tl.program_id(2) // NUM_NB  # slice index (q / k / v ...)
    nb = tl.program_id(2) % NUM_NB
    length = tl.load(lens_ptr + g)
    if mb * BLOCK_M < length:
        start = tl.load(starts_ptr + g)
        slot = tl.load(slots_ptr + g)
        lo = tl.load(offsets_ptr + sl)
        hi = tl.load(offsets_ptr + sl + 1)
        local_m = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        mask_m = local_m < length
        offs_m = start + local_m  # [BLOCK_M]
        offs_n = lo + nb * BLOCK_N + tl.arange(0, BLOCK_N)  # [BLOCK_N] output columns of this slice
        mask_n = offs_n < hi
        offs_r = tl.arange(0, BLOCK_R)
        mask_r = offs_r < R
        buf_ptrs = buf_ptr + offs_m[:, None] * stride_buf + sl * R + offs_r[None, :]
        bufv = tl.load(buf_ptrs, mask=mask_m[:, None] & mask_r[None, :], other=0.0).to(tl.float32)  # [M, R]
        b_ptrs = b_ptr + slot * stride_bs + offs_n[None, :] * stride_bn + offs_r[:, None]
        bv = tl.load(b_ptrs, mask=mask_r[:, None] & mask_n[None, :], other=0.0).to(tl.float32)  # [R, N]
        delta = tl.dot(bufv, bv, input_precision="ieee")  # [M, N]
        y_ptrs = y_ptr + offs_m[:, None] * stride_y + offs_n[None, :]
        y_mask = mask_m[:, None] & mask_n[None, :]
        yv = tl.load(y_ptrs, mask=y_mask, other=0.0).to(tl.float32)
        tl.store(y_ptrs, (yv + delta).to(y_ptr.dtype.element_ty), mask=y_mask)


def _block(n: int) -> int:
    """A power-of-two block of at least 16 (the smallest ``tl.dot`` dimension on a GPU)."""
    return max(16, triton.next_power_of_2(n))


def _longest(seg_lens: torch.Tensor, max_seg_len: int | None) -> int:
    """The longest segment: the metadata's host value, else read from the device (one sync)."""
    if max_seg_len is not None:
        return max_seg_len
    return int(seg_lens.max()) if seg_lens.numel() else 0


def sgmv_shrink(
    x: torch.Tensor,
    lora_a: torch.Tensor,
    out: torch.Tensor,
    seg_starts: torch.Tensor,
    seg_lens: torch.Tensor,
    seg_slots: torch.Tensor,
    token_scales: torch.Tensor,
    max_seg_len: int | None = None,
) -> None:
    """Triton version of :func:`kernels.reference.sgmv_shrink`.

    ``max_seg_len`` (host int, from the metadata) sizes the grid without a device sync.
    """
    check_shrink(x, lora_a, out, token_scales, seg_starts, seg_lens, seg_slots)
    longest = _longest(seg_lens, max_seg_len)
    if longest == 0:
        return
    rs = lora_a.shape[1]
    grid = (seg_lens.numel(), triton.cdiv(longest, BLOCK_M))
    _sgmv_shrink_kernel[grid](
        x, lora_a, out, seg_starts, seg_lens, seg_slots, token_scales, x.shape[1], rs,
        x.stride(0), lora_a.stride(0), lora_a.stride(1), out.stride(0),
        BLOCK_M=BLOCK_M, BLOCK_R=_block(rs), BLOCK_K=BLOCK_K,
    )


def sgmv_expand(
    buf: torch.Tensor,
    lora_b: torch.Tensor,
    y: torch.Tensor,
    seg_starts: torch.Tensor,
    seg_lens: torch.Tensor,
    seg_slots: torch.Tensor,
    slice_offsets: tuple[int, ...],
    max_seg_len: int | None = None,
) -> None:
    """Triton version of :func:`kernels.reference.sgmv_expand` (all slices in one launch)."""
    check_expand(buf, lora_b, y, slice_offsets, seg_starts, seg_lens, seg_slots)
    longest = _longest(seg_lens, max_seg_len)
    if longest == 0:
        return
    rank = lora_b.shape[2]
    widest = max(hi - lo for lo, hi in zip(slice_offsets[:-1], slice_offsets[1:]))
    num_nb = triton.cdiv(widest, BLOCK_N)
    grid = (seg_lens.numel(), triton.cdiv(longest, BLOCK_M), num_nb * (len(slice_offsets) - 1))
    _sgmv_expand_kernel[grid](
        buf, lora_b, y, seg_starts, seg_lens, seg_slots, offsets_tensor(slice_offsets, y.device), rank, num_nb,
        buf.stride(0), lora_b.stride(0), lora_b.stride(1), y.stride(0),
        BLOCK_M=BLOCK_M, BLOCK_R=_block(rank), BLOCK_N=BLOCK_N,
    )
