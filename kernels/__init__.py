"""Multi-LoRA ops: SGMV (prefill segments) and BGMV (decode rows) with one dispatch point.

CUDA tensors go to the Triton kernels (``kernels.sgmv`` / ``kernels.bgmv``, imported on first use so
CPU-only installs never import triton); CPU tensors take the compiled fused kernel (``kernels/cpu/lora.cpp``,
built by ``kernels.cpu_ext``; prefill runs of ``LONG_RUN`` tokens or more go to GEMMs) and, where it could not be built, ``kernels.torch_path`` (a slot grid for
decode-heavy steps, else a segment loop).
``kernels.reference`` is the specification both must match.
"""

from __future__ import annotations

from types import ModuleType

import torch

from kernels.cpu_ext import cpu_ops
from kernels.metadata import LoRAMetadata
from kernels.torch_path import grid_lora, segment_lora

__all__ = ["LoRAMetadata", "add_lora", "rn_storage", "slot_group_args"]


def _add_lora_triton(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    meta: LoRAMetadata,
    slice_offsets: tuple[int, ...],
) -> None:
    buf = torch.empty((x.shape[0], lora_a.shape[1]), dtype=torch.float32, device=x.device)  # [T, n_slices*R]
    if meta.is_decode:
        from kernels import bgmv

        bgmv.bgmv_shrink(x, lora_a, buf, meta.token_slots, meta.token_scales)
        bgmv.bgmv_expand(buf, lora_b, y, meta.token_slots, slice_offsets)
        return
    from kernels import sgmv

    segs = (meta.seg_starts, meta.seg_lens, meta.seg_slots)
    sgmv.sgmv_shrink(x, lora_a, buf, *segs, meta.token_scales, max_seg_len=meta.max_seg_len)
    sgmv.sgmv_expand(buf, lora_b, y, *segs, slice_offsets, max_seg_len=meta.max_seg_len)


def rn_storage(lora_b: torch.Tensor) -> bool:
    """Whether ``lora_b [S, N, R]`` is a transposed view of contiguous ``[S, R, N]`` storage (the pool's CPU
    layout); a stride test, cheaper on the per-projection path than building the transposed view."""
    _, n, r = lora_b.shape
    return lora_b.stride() == (r * n, 1, n)


def slot_group_args(meta: LoRAMetadata, lora_a: torch.Tensor, lora_b: torch.Tensor) -> list[torch.Tensor]:
    """The fused CPU kernel's arguments for a step's slot groups: tokens, scales, starts, slots and each
    slot's rank (the stacks' full rank ``R`` of ``lora_b [S, N, R]`` where the metadata holds none)."""
    g, ranks = meta.groups, meta.slot_ranks
    if ranks is None:
        ranks = torch.full((lora_a.shape[0],), lora_b.shape[2], dtype=torch.long)
    return [g.tokens, g.scales, g.starts, g.slots, ranks]


def _add_lora_cpu(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    meta: LoRAMetadata,
    slice_offsets: tuple[int, ...],
    ops: ModuleType,
) -> None:
    if not rn_storage(lora_b):
        lora_b = lora_b.transpose(1, 2).contiguous().transpose(1, 2)
    if meta.groups.tokens.numel():
        ops.add_lora(y, x, lora_a, lora_b, *slot_group_args(meta, lora_a, lora_b), slice_offsets)
    if meta.long_runs:  # prefill chunks: GEMMs (oneDNN, AMX in bf16) beat the kernel's vector loops there
        segment_lora(y, x, lora_a, lora_b, meta.long_runs, slice_offsets)


def _add_lora_pass(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    meta: LoRAMetadata,
    slice_offsets: tuple[int, ...],
) -> None:
    """One adapter per token (the views of ``meta``): Triton on CUDA, else the torch path."""
    if x.is_cuda:
        _add_lora_triton(y, x, lora_a, lora_b, meta, slice_offsets)
    elif meta.grid is not None:
        grid_lora(y, x, lora_a, lora_b, meta.grid, slice_offsets)
    else:
        segment_lora(y, x, lora_a, lora_b, meta.segments, slice_offsets)


def add_lora(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    meta: LoRAMetadata,
    slice_offsets: tuple[int, ...],
    ops: ModuleType | None = None,
) -> None:
    """Add every token's adapter delta to ``y`` in place (a fused layer: all slices at once).

    x [T, H_in], lora_a [S, n_slices*R, H_in], lora_b [S, N, R], y [T, N]; tokens described by ``meta``.
    A blended token gets the sum of its adapters' deltas: one fused call over all entries on the CPU
    kernel, else one pass per component (``meta`` then each of ``meta.blend_passes``). ``ops``: a compiled
    kernels module to call instead of this host's build (``inkwell bench-kernel`` times two builds).
    """
    if x.shape[0] != meta.num_tokens:
        raise ValueError(f"LoRA metadata describes {meta.num_tokens} tokens but the layer got {x.shape[0]}")
    if not meta.has_lora:
        return
    if not x.is_cuda and meta.groups is not None:
        _add_lora_cpu(y, x, lora_a, lora_b, meta, slice_offsets, ops or cpu_ops())
        return
    for part in (meta, *meta.blend_passes):
        if part.has_lora:
            _add_lora_pass(y, x, lora_a, lora_b, part, slice_offsets)
