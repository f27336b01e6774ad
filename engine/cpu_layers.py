"""A CPU speed-up applied after loading: decoder layers whose forward runs the fused C++ kernels.

``fuse_layers(model)`` swaps every ``DecoderLayer`` for a :class:`FusedDecoderLayer` that keeps the same
submodules (so weights, packed linears and LoRA wrappers are shared, never copied) and replaces the ~30
small torch ops of a layer by five kernel calls (``kernels/cpu/layer_ops.cpp``): RMSNorm, rotary
embedding fused with the KV-cache write, the residual add fused with the second RMSNorm, SiLU x up, and
attention read straight from the paged cache, every row of the step in one call (engine/attention.py,
``kernels/cpu/attention.cpp``). The model's final RMSNorm runs on the same norm kernel
(:class:`FusedRMSNorm`). engine/model.py stays the readable reference; the fused modules compute the same
function (tests/engine/test_model_parity.py).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from engine.attention import attend_cached
from engine.context import get_context
from engine.model import DecoderLayer, RMSNorm, Transformer


def rope_table(model: Transformer) -> torch.Tensor:
    """``[max_positions, D]`` fp32: cos then sin of every position, rounded to the model's dtype first
    (as the eager model's ``.to(x.dtype)`` does)."""
    dtype = model.embed_tokens.weight.dtype
    positions = torch.arange(model.args.max_position_embeddings, dtype=torch.float32)
    freqs = positions[:, None] * model.inv_freq.float()[None, :]  # [P, D/2]
    return torch.cat((freqs.cos().to(dtype), freqs.sin().to(dtype)), dim=-1).float().contiguous()


class FusedDecoderLayer(nn.Module):
    """``DecoderLayer``'s forward on the fused CPU kernels, over the same submodules.

    Built after every other module swap (packing, LoRA wrappers): it binds the projections' forwards
    once, so a step pays no module lookups; the submodules stay registered for state_dict and LoRA.
    """

    def __init__(self, layer: DecoderLayer, cos_sin: torch.Tensor, ops: ModuleType) -> None:
        super().__init__()
        self.input_layernorm, self.self_attn = layer.input_layernorm, layer.self_attn
        self.post_attention_layernorm, self.mlp = layer.post_attention_layernorm, layer.mlp
        a, m = layer.self_attn, layer.mlp
        self._proj = (a.qkv_proj.forward, a.o_proj.forward, m.gate_up_proj.forward, m.down_proj.forward)
        self._norms = (layer.input_layernorm.weight, layer.post_attention_layernorm.weight, layer.input_layernorm.eps)
        self._heads = (a.num_heads, a.num_kv_heads, a.head_dim)
        self._attn = (a,)  # a plain reference: its caches are read at call time (bound after loading)
        self.cos_sin, self.ops = cos_sin, ops

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x ``[T, hidden]`` (updated in place as the residual stream) -> ``[T, hidden]``."""
        w_in, w_post, eps = self._norms
        h = torch.empty_like(x)
        self.ops.rms_norm(h, x, w_in, eps)
        attn = self._attention(h)  # [T, hidden]
        self.ops.add_rms_norm(h, attn, x, w_post, eps)
        return x.add_(self._mlp(h))

    def _attention(self, h: torch.Tensor) -> torch.Tensor:
        qkv_proj, o_proj, _, _ = self._proj
        heads, kv_heads, dim = self._heads
        (a,) = self._attn
        k_cache, v_cache, ctx = a.k_cache, a.v_cache, get_context()
        qkv = qkv_proj(h).contiguous()  # [T, (H + 2 * KVH) * D]
        self.ops.rope_and_store_kv(qkv, ctx.positions, self.cos_sin, k_cache, v_cache, ctx.slot_mapping, heads,
                                   kv_heads)
        t = qkv.shape[0]
        q, k, v = qkv.view(t, -1, dim).split([heads, kv_heads, kv_heads], dim=1)  # rotated q, k
        out = attend_cached(q, k, v, k_cache, v_cache, ctx, a.scale, a.window)  # [T, H, D]
        return o_proj(out.view(t, -1))

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        _, _, gate_up_proj, down_proj = self._proj
        gate_up = gate_up_proj(h).contiguous()  # [T, 2 * I]
        act = gate_up.new_empty((gate_up.shape[0], gate_up.shape[1] // 2))  # [T, I]
        self.ops.silu_and_mul(act, gate_up)
        return down_proj(act)


class FusedRMSNorm(nn.Module):
    """``RMSNorm``'s forward on the norm kernel of the fused layers (same weight, same roundings): the
    eager one is ~6 torch ops, ~0.09 ms of a 16-row SmolLM2 decode step."""

    def __init__(self, norm: RMSNorm, ops: ModuleType) -> None:
        super().__init__()
        self.weight, self.eps, self.ops = norm.weight, norm.eps, ops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x ``[T, hidden]`` -> a new ``[T, hidden]``."""
        out = torch.empty_like(x)
        self.ops.rms_norm(out, x.contiguous(), self.weight, self.eps)
        return out


def fuse_layers(model: Transformer, ops: ModuleType | None) -> int:
    """Swap the decoder layers (and the final norm) of a CPU model for fused ones; returns how many layers
    (0 without kernels)."""
    weight = model.embed_tokens.weight
    if ops is None or weight.device.type != "cpu" or weight.dtype not in (torch.float32, torch.bfloat16):
        return 0
    cos_sin = rope_table(model)
    for i, layer in enumerate(model.layers):
        model.layers[i] = FusedDecoderLayer(layer, cos_sin, ops)
    model.norm = FusedRMSNorm(model.norm, ops)
    return len(model.layers)
