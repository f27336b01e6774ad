"""The CPU LoRA paths: no gather (copy) of per-row adapter weights, few ops per layer.

* Grid (decode-heavy steps): tokens regrouped per slot into a padded ``[slots, rows]`` grid, then one
  ``bmm`` against the contiguous slot range of A and one per slice against B, read in place, the slices
  joined and one full-width ``index_add_`` back into ``y`` (an ``index_add_`` into a column slice of
  ``y`` is ~4x slower): a handful of ops per layer whatever the number of adapters.
* Segments (long prefill runs): per contiguous run of tokens sharing a slot, one ``mm`` for the shrink
  and one in-place ``addmm_`` per slice.
"""

from __future__ import annotations

import torch

from kernels.metadata import Segment, SlotGrid


def grid_lora(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    grid: SlotGrid,
    slice_offsets: tuple[int, ...],
) -> None:
    """Same result as :func:`segment_lora`, batched over the grid's slot range.

    x [T, H_in], lora_a [S, n_slices*R, H_in], lora_b [S, N, R], y [T, N] (updated in place).
    """
    slots = slice(grid.first_slot, grid.first_slot + grid.num_slots)
    xs = x.index_select(0, grid.index).view(grid.num_slots, grid.rows, -1)  # [G, L, H_in]
    shrunk = torch.bmm(xs, lora_a[slots].transpose(1, 2)).mul_(grid.scale)  # [G, L, n_slices*R]
    b_t = lora_b[slots].transpose(1, 2)  # [G, R, N]
    widths = [hi - lo for lo, hi in zip(slice_offsets[:-1], slice_offsets[1:])]
    if len(widths) == 1:
        delta = torch.bmm(shrunk, b_t)  # [G, L, N]
    else:
        parts = zip(shrunk.split(lora_b.shape[2], dim=2), b_t.split(widths, dim=2))  # [G, L, R], [G, R, hi - lo]
        delta = torch.cat([torch.bmm(s, b) for s, b in parts], dim=2)  # [G, L, N]
    y.index_add_(0, grid.index, delta.view(-1, y.shape[1]))


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
