"""A CPU speed-up applied after loading: decoder layers whose forward runs the fused C++ kernels.

``fuse_layers(model)`` swaps every ``DecoderLayer`` for a :class:`FusedDecoderLayer` that keeps the same
submodules (so weights, packed linears and LoRA wrappers are shared, never copied) and replaces the ~30
small torch ops of a layer by five kernel calls (``kernels/cpu/layer_ops.cpp``): RMSNorm, rotary
embedding fused with the KV-cache write, the residual add fused with the second RMSNorm, SiLU x up, and
decode attention read straight from the paged cache (``kernels/cpu/attention.cpp``). engine/model.py
stays the readable reference; the fused layer computes the same function (tests/engine/test_cpu_layers.py).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from engine.attention import attend_cached
from engine.context import get_context
from engine.model import DecoderLayer, Transformer


def rope_table(model: Transformer) -> torch.Tensor:
    """``[max_positions, D]`` fp32: cos then sin of every position, rounded to the model's dtype first
    (as the eager model's ``.to(x.dtype)`` does)."""
    dtype = model.embed_tokens.weight.dtype
    positions = torch.arange(model.args.max_position_embeddings, dtype=torch.float32)
    freqs = positions[:, None] * model.inv_freq.float()[None, :]  # [P, D/2]
    return torch.cat((freqs.cos().to(dtype), freqs.sin().to(dtype)), dim=-1).float().contiguous()


class FusedDecoderLayer(nn.Module):
    """``DecoderLayer``'s forward on the fused CPU kernels, over the same submodules."""

    def __init__(self, layer: DecoderLayer, cos_sin: torch.Tensor, ops: ModuleType) -> None:
        super().__init__()
        self.input_layernorm, self.self_attn = layer.input_layernorm, layer.self_attn
        self.post_attention_layernorm, self.mlp = layer.post_attention_layernorm, layer.mlp
        self.cos_sin, self.ops = cos_sin, ops

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x ``[T, hidden]`` (updated in place as the residual stream) -> ``[T, hidden]``."""
        h = torch.empty_like(x)
        self.ops.rms_norm(h, x, self.input_layernorm.weight, self.input_layernorm.eps)
        attn = self._attention(h)  # [T, hidden]
        self.ops.add_rms_norm(h, attn, x, self.post_attention_layernorm.weight, self.post_attention_layernorm.eps)
        return x.add_(self._mlp(h))

    def _attention(self, h: torch.Tensor) -> torch.Tensor:
        a, ctx = self.self_attn, get_context()
        qkv = a.qkv_proj(h).contiguous()  # [T, (H + 2 * KVH) * D]
        self.ops.rope_and_store_kv(qkv, ctx.positions, self.cos_sin, a.k_cache, a.v_cache, ctx.slot_mapping,
                                   a.num_heads, a.num_kv_heads)
        t, d = qkv.shape[0], a.head_dim
        q, k, v = qkv.view(t, -1, d).split([a.num_heads, a.num_kv_heads, a.num_kv_heads], dim=1)  # rotated
        out = attend_cached(q, k, v, a.k_cache, a.v_cache, ctx, a.scale, a.window)  # [T, H, D]
        return a.o_proj(out.reshape(t, -1))

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        gate_up = self.mlp.gate_up_proj(h).contiguous()  # [T, 2 * I]
        act = gate_up.new_empty((gate_up.shape[0], gate_up.shape[1] // 2))  # [T, I]
        self.ops.silu_and_mul(act, gate_up)
        return self.mlp.down_proj(act)


def fuse_layers(model: Transformer, ops: ModuleType | None) -> int:
    """Swap the decoder layers of a CPU model for fused ones; returns how many (0 without kernels)."""
    weight = model.embed_tokens.weight
    if ops is None or weight.device.type != "cpu" or weight.dtype not in (torch.float32, torch.bfloat16):
        return 0
    cos_sin = rope_table(model)
    for i, layer in enumerate(model.layers):
        model.layers[i] = FusedDecoderLayer(layer, cos_sin, ops)
    return len(model.layers)
