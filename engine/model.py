"""The Llama/Mistral decoder, bottom-up (norm, rope, attention, MLP, layer, then the whole model),
on flattened token rows over a paged KV cache.

Every forward pass sees ``T`` token rows (all scheduled sequences, concatenated); batch layout,
positions and cache slots come from the step context (engine/context.py). The linear modules keep
fixed names (``qkv_proj``, ``o_proj``, ``gate_up_proj``, ``down_proj``) so that LoRA can wrap them
from outside without touching this file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.attention import paged_attention
from engine.context import get_context


@dataclass(frozen=True)
class ModelArgs:
    """The architecture numbers of one Llama-family checkpoint (parsed by engine/loader.py)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None  # {"rope_type": "llama3" | "linear", ...}
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    sliding_window: int | None = None  # Mistral: a token sees keys at positions > pos - window
    attention_bias: bool = False
    mlp_bias: bool = False


class RMSNorm(nn.Module):
    """Root-mean-square norm, computed in float32 like the reference implementation."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rope_inv_freq(args: ModelArgs) -> torch.Tensor:
    """Inverse frequencies ``[D/2]`` (float32), with llama3 or linear scaling when configured."""
    dim = args.head_dim
    inv_freq = 1.0 / (args.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = args.rope_scaling or {}
    kind = scaling.get("rope_type", "default")
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind != "llama3":
        return inv_freq
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_len = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old_len / low, inv_freq / factor, inv_freq)  # long waves: slow down
    smooth = (old_len / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
    return torch.where(medium, blended, scaled)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate halves: x ``[T, heads, D]``, cos/sin ``[T, 1, D/2]`` -> ``[T, heads, D]``."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attention(nn.Module):
    """Grouped-query attention with one fused q/k/v projection and a paged KV cache."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = args.num_heads, args.num_kv_heads, args.head_dim
        q_size, kv_size = args.num_heads * args.head_dim, args.num_kv_heads * args.head_dim
        self.qkv_proj = nn.Linear(args.hidden_size, q_size + 2 * kv_size, bias=args.attention_bias)
        self.qkv_proj.output_sizes = (q_size, kv_size, kv_size)
        self.o_proj = nn.Linear(q_size, args.hidden_size, bias=args.attention_bias)
        self.scale = args.head_dim**-0.5
        self.window = args.sliding_window
        self.k_cache = self.v_cache = torch.empty(0)  # k [blocks, KVH, D, block_size], v [blocks, KVH, block_size, D]

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        qkv = self.qkv_proj(x)  # [T, (H + 2 * KVH) * D]
        qk, v = qkv.split([(self.num_heads + self.num_kv_heads) * self.head_dim, self.num_kv_heads * self.head_dim], -1)
        qk = apply_rope(qk.view(t, -1, self.head_dim), cos, sin)  # [T, H + KVH, D]: q and k rotate together
        q, k = qk.split([self.num_heads, self.num_kv_heads], dim=1)
        v = v.view(t, self.num_kv_heads, self.head_dim)
        out = paged_attention(q, k, v, self.k_cache, self.v_cache, get_context(), self.scale, self.window)  # [T, H, D]
        return self.o_proj(out.reshape(t, -1))


class MLP(nn.Module):
    """SwiGLU feed-forward with one fused gate/up projection."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        inter = args.intermediate_size
        self.gate_up_proj = nn.Linear(args.hidden_size, 2 * inter, bias=args.mlp_bias)
        self.gate_up_proj.output_sizes = (inter, inter)
        self.down_proj = nn.Linear(inter, args.hidden_size, bias=args.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)  # [T, I] each
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(nn.Module):
    """Pre-norm attention block then pre-norm MLP block, each with a residual."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.self_attn = Attention(args)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.mlp = MLP(args)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    """Embedding, decoder layers, final norm and LM head (``LlamaForCausalLM``/``MistralForCausalLM``)."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(args) for _ in range(args.num_layers))
        self.norm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)
        if args.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.register_buffer("inv_freq", rope_inv_freq(args), persistent=False)  # [D/2] float32

    def init_rope(self) -> None:
        """Recompute the RoPE frequencies (after materializing a model built on the meta device)."""
        self.inv_freq = rope_inv_freq(self.args).to(self.inv_freq.device)

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Token ids ``[T]`` at ``positions`` ``[T]`` -> final hidden states ``[T, hidden]``."""
        x = self.embed_tokens(input_ids)  # [T, hidden]
        freqs = positions.float()[:, None] * self.inv_freq[None, :]  # [T, D/2] float32
        cos = freqs.cos().to(x.dtype)[:, None, :]  # [T, 1, D/2]
        sin = freqs.sin().to(x.dtype)[:, None, :]
        return self.norm(self.run_layers(x, cos, sin))

    def run_layers(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Every decoder layer in order: ``[T, hidden]`` -> ``[T, hidden]`` (a CPU speed-up may run a
        whole decode step in one kernel call instead, engine/decode_stack.py)."""
        for layer in self.layers:
            x = layer(x, cos, sin)
        return x

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states ``[R, hidden]`` -> logits ``[R, vocab]``."""
        return self.lm_head(hidden)
