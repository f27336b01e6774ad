"""Attention over the paged KV cache, in torch (CPU and CUDA) or the compiled CPU kernel.

Each layer's cache is a pair of tensors, keys ``[num_blocks, KVH, D, block_size]`` (transposed inside a
block) and values ``[num_blocks, KVH, block_size, D]`` (engine/kv_cache.py); a sequence's keys live in the
blocks its block table names (flat slot = block * block_size + offset). On the CPU with the compiled kernels
every row of the step (prefill and decode) attends in one call, straight from the cache, to the first
``position + 1`` keys of its own table (``kernels/cpu/attention.cpp``). Elsewhere prefill segments attend one
at a time through SDPA (causal, with their earlier chunks from the cache), and all decode rows together in
one padded batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.context import StepContext
from kernels.cpu_ext import cpu_ops


def store_kv(k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
             slot_mapping: torch.Tensor) -> None:
    """Write this step's keys/values ``[T, KVH, D]`` into their cache slots ``[T]``."""
    block_size = v_cache.shape[2]
    blocks, offsets = slot_mapping // block_size, slot_mapping % block_size
    k_cache[blocks, :, :, offsets] = k
    v_cache[blocks, :, offsets] = v


def paged_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                    v_cache: torch.Tensor, ctx: StepContext, scale: float, window: int | None = None) -> torch.Tensor:
    """Store k/v, then attend: q ``[T, H, D]``, k/v ``[T, KVH, D]`` -> ``[T, H, D]``."""
    store_kv(k, v, k_cache, v_cache, ctx.slot_mapping)
    return attend_cached(q, k, v, k_cache, v_cache, ctx, scale, window)


def uses_row_kernel(device: torch.device) -> bool:
    """Whether attention on ``device`` runs on the compiled row kernel (which needs no masks)."""
    return device.type == "cpu" and cpu_ops() is not None


def attend_cached(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                  v_cache: torch.Tensor, ctx: StepContext, scale: float, window: int | None) -> torch.Tensor:
    """Attention once this step's k/v ``[T, KVH, D]`` are in the cache: q ``[T, H, D]`` -> ``[T, H, D]``.

    ``window`` (Mistral's sliding window, or None) must agree with the masks the runner built.
    """
    if uses_row_kernel(q.device):
        out = q.new_empty(q.shape)
        cpu_ops().paged_row_attention(out, q, k_cache, v_cache, ctx.row_tables, ctx.row_lens, scale, window or 0)
        return out
    decode_tables = ctx.row_tables[ctx.num_prefill_tokens:]  # [D, N]
    if ctx.num_prefills == 0:
        return _decode_sdpa(q, k_cache, v_cache, decode_tables, ctx.decode_mask, scale)
    out = q.new_empty(q.shape)
    for i, ((start, end, ctx_len), mask) in enumerate(zip(ctx.prefill_bounds, ctx.prefill_masks)):
        if mask is None:  # a whole prompt, no sliding window: keys are this step's own rows
            keys, values = k[start:end], v[start:end]
        else:
            slots = _block_slots(ctx.block_tables[i], v_cache.shape[2])[:ctx_len]  # [ctx_len]
            keys, values = _gather_keys(k_cache, slots), _gather_values(v_cache, slots)  # [ctx_len, KVH, D]
        out[start:end] = _prefill(q[start:end], keys, values, mask, scale)
    if ctx.decode_mask is not None:
        rows = slice(ctx.num_prefill_tokens, None)
        out[rows] = _decode_sdpa(q[rows], k_cache, v_cache, decode_tables, ctx.decode_mask, scale)
    return out


def _block_slots(block_tables: torch.Tensor, block_size: int) -> torch.Tensor:
    """Flat cache slots of every position the tables cover: ``[..., N]`` -> ``[..., N * block_size]``."""
    offsets = torch.arange(block_size, device=block_tables.device)  # [B]
    return (block_tables.unsqueeze(-1) * block_size + offsets).flatten(-2)


def _gather_values(v_cache: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Values of ``v_cache [num_blocks, KVH, B, D]`` at flat ``slots [..., L]`` -> ``[..., L, KVH, D]``."""
    block_size = v_cache.shape[2]
    return v_cache[slots // block_size, :, slots % block_size]


def _gather_keys(k_cache: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Keys of ``k_cache [num_blocks, KVH, D, B]`` at flat ``slots [..., L]`` -> ``[..., L, KVH, D]``."""
    block_size = k_cache.shape[3]
    return k_cache[slots // block_size, :, :, slots % block_size]


def _prefill(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
             scale: float) -> torch.Tensor:
    """One segment: q ``[Q, H, D]``, k/v ``[C, KVH, D]``, mask ``[Q, C]`` or None (causal, Q == C)."""
    # 4-D inputs: on the CPU only those reach the flash kernel (3-D ones take the math path, 5-30x slower)
    out = F.scaled_dot_product_attention(
        q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None],  # [1, H, Q, D], [1, KVH, C, D]
        attn_mask=mask, is_causal=mask is None, scale=scale, enable_gqa=True,
    )  # [1, H, Q, D]
    return out[0].transpose(0, 1)


def _decode_sdpa(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, block_tables: torch.Tensor,
                 mask: torch.Tensor, scale: float) -> torch.Tensor:
    """Gathered decode rows: q ``[R, H, D]``, tables ``[R, N]``, mask ``[R, 1, 1, L]`` -> ``[R, H, D]``."""
    block_size = v_cache.shape[2]
    slots = _block_slots(block_tables[:, : mask.shape[-1] // block_size], block_size)  # [R, L]
    keys = _gather_keys(k_cache, slots).transpose(1, 2)  # [R, KVH, L, D]
    values = _gather_values(v_cache, slots).transpose(1, 2)
    out = F.scaled_dot_product_attention(
        q.unsqueeze(2), keys, values, attn_mask=mask, scale=scale, enable_gqa=True,
    )  # [R, H, 1, D]
    return out.squeeze(2)
