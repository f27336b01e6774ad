"""The CPU LoRA path: a loop over adapter segments with no gather of per-row weights.

Each segment is a contiguous run of tokens sharing one slot and one scale (see
:class:`kernels.metadata.LoRAMetadata`), so its rows of ``x`` and ``y`` are views: the shrink is one
``mm`` against the slot's A (read in place), the expand one in-place ``addmm_`` per slice. Order the
batch by adapter to get one segment per adapter in decode.
"""

from __future__ import annotations

import torch

from kernels.metadata import Segment


def segment_lora(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    segments: list[Segment],
    slice_offsets: tuple[int, ...],
) -> None:
    """``y[rows, lo:hi] += scale * (x[rows] @ A[slot].T)[:, slice] @ B[slot, lo:hi].T`` for every segment.

    x [T, H_in], lora_a [S, n_slices*R, H_in], lora_b [S, N, R], y [T, N] (updated in place).
    """
    rank = lora_b.shape[2]
    bounds = list(zip(slice_offsets[:-1], slice_offsets[1:]))
    for seg in segments:
        shrunk = torch.mm(x[seg.start:seg.end], lora_a[seg.slot].t())  # [len, n_slices*R]
        rows = y[seg.start:seg.end]
        for i, (lo, hi) in enumerate(bounds):
            part = shrunk[:, i * rank:(i + 1) * rank]  # [len, R]
            rows[:, lo:hi].addmm_(part, lora_b[seg.slot, lo:hi].t(), alpha=seg.scale)
