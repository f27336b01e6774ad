"""Torch reference for the multi-LoRA ops: the specification the Triton kernels must match.

Layout shared by every op (punica / vLLM style, one op per fused layer):

* ``lora_a``: ``[S, n_slices * R, H_in]``, slot ``s`` holds the A matrices of every slice of a fused
  linear stacked along the rank axis (slice ``i`` owns rows ``i*R:(i+1)*R``).
* ``lora_b``: ``[S, N, R]``, slot ``s`` holds the B matrices of every slice stacked along the output
  axis; slice ``i`` owns output columns ``slice_offsets[i]:slice_offsets[i+1]``.
* ``slice_offsets``: ``n_slices + 1`` ints, ``(0, q, q+k, q+k+v)`` for a fused qkv projection.
* Slot ``-1`` means "no adapter": such tokens are skipped, their rows of ``out`` are left untouched.

The shrink writes an fp32 buffer, the expand adds into ``y`` in place; both accumulate in fp32.
These functions favour clarity (gather then einsum), not speed.
"""

from __future__ import annotations

import torch


def bgmv_shrink(
    x: torch.Tensor,
    lora_a: torch.Tensor,
    out: torch.Tensor,
    token_slots: torch.Tensor,
    token_scales: torch.Tensor,
) -> None:
    """One row per token (decode)::

        x [T, H_in], lora_a [S, RS, H_in], out [T, RS] fp32, token_slots [T] int, token_scales [T] fp32
        for t in range(T):
            s = token_slots[t]
            if s >= 0:
                out[t, :] = token_scales[t] * (lora_a[s] @ x[t])        # [RS]
    """
    rows = torch.nonzero(token_slots >= 0).flatten()
    a = lora_a[token_slots[rows]].float()  # [T', RS, H_in]
    shrunk = torch.einsum("th,trh->tr", x[rows].float(), a)  # [T', RS]
    out[rows] = shrunk * token_scales[rows, None].float()


def bgmv_expand(
    buf: torch.Tensor,
    lora_b: torch.Tensor,
    y: torch.Tensor,
    token_slots: torch.Tensor,
    slice_offsets: tuple[int, ...],
) -> None:
    """One row per token (decode), every slice of the fused output at once::

        buf [T, n_slices * R] fp32, lora_b [S, N, R], y [T, N], token_slots [T] int
        for t in range(T):
            s = token_slots[t]
            if s >= 0:
                for i in range(n_slices):
                    lo, hi = slice_offsets[i], slice_offsets[i + 1]
                    y[t, lo:hi] += lora_b[s, lo:hi, :] @ buf[t, i*R:(i+1)*R]   # [hi - lo]
    """
    rank = lora_b.shape[2]
    rows = torch.nonzero(token_slots >= 0).flatten()
    b = lora_b[token_slots[rows]].float()  # [T', N, R]
    for i, (lo, hi) in enumerate(zip(slice_offsets[:-1], slice_offsets[1:])):
        part = buf[rows, i * rank:(i + 1) * rank].float()  # [T', R]
        delta = torch.einsum("tr,tnr->tn", part, b[:, lo:hi])  # [T', hi - lo]
        y[rows, lo:hi] = (y[rows, lo:hi].float() + delta).to(y.dtype)


def segments_to_slots(
    num_tokens: int, seg_starts: torch.Tensor, seg_lens: torch.Tensor, seg_slots: torch.Tensor
) -> torch.Tensor:
    """Expand segments into a per-token slot vector ``[num_tokens]`` (-1 outside every segment)."""
    slots = torch.full((num_tokens,), -1, dtype=torch.long, device=seg_starts.device)
    for start, length, slot in zip(seg_starts.tolist(), seg_lens.tolist(), seg_slots.tolist()):
        slots[start:start + length] = slot
    return slots


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
    """Segments of consecutive tokens sharing one adapter (prefill); ``max_seg_len`` is a grid-sizing
    hint for the kernels, unused here::

        x [T, H_in], lora_a [S, RS, H_in], out [T, RS] fp32,
        seg_starts / seg_lens / seg_slots [G] int, token_scales [T] fp32
        for g in range(G):
            rows = range(seg_starts[g], seg_starts[g] + seg_lens[g])
            out[rows, :] = token_scales[rows, None] * (x[rows] @ lora_a[seg_slots[g]].T)   # [len, RS]
    """
    slots = segments_to_slots(x.shape[0], seg_starts, seg_lens, seg_slots)
    bgmv_shrink(x, lora_a, out, slots, token_scales)


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
    """Segments of consecutive tokens sharing one adapter (prefill), every slice at once::

        buf [T, n_slices * R] fp32, lora_b [S, N, R], y [T, N], seg_* [G] int
        for g in range(G):
            rows = range(seg_starts[g], seg_starts[g] + seg_lens[g])
            for i in range(n_slices):
                lo, hi = slice_offsets[i], slice_offsets[i + 1]
                y[rows, lo:hi] += buf[rows, i*R:(i+1)*R] @ lora_b[seg_slots[g], lo:hi, :].T   # [len, hi - lo]
    """
    slots = segments_to_slots(buf.shape[0], seg_starts, seg_lens, seg_slots)
    bgmv_expand(buf, lora_b, y, slots, slice_offsets)
