"""A CPU speed-up for decode steps: every decoder layer in one C++ call.

``stack_decode_layers(model, ops)`` sets ``model.run_layers`` to a :class:`LayerStack` when every projection
of the fused layers (engine/cpu_layers.py) is a packed linear (engine/packed_linear.py: the bf16 pair GEMM, the
fp32 block GEMM, or oneDNN's packed matmul). A step with decode rows only then runs
``kernels/cpu/decode_stack.cpp``: the same kernels in the same order as the fused layers, so the result is
bit-identical, with no Python between them (a decode step of SmolLM2's 30 layers made ~500 Python calls).
Steps with a prefill, and LoRA steps with long runs, take the fused layers as before.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from engine.context import get_context
from engine.cpu_layers import FusedDecoderLayer
from engine.lora.linear import LoRALinear
from engine.model import Transformer
from engine.packed_linear import MIN_PACKED_ROWS, PackedLinear
from kernels import rn_storage, slot_group_args

NO_LORA: list[torch.Tensor] = []  # the kernel's "no adapter this step"


def _projections(layer: FusedDecoderLayer) -> tuple[Any, ...]:
    a, m = layer.self_attn, layer.mlp
    return a.qkv_proj, a.o_proj, m.gate_up_proj, m.down_proj


def _base(projection: Any) -> Any:
    return projection.base if isinstance(projection, LoRALinear) else projection


def _packed(projection: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None] | None:
    """(packed weight, plain weight or None for Inkwell's own layouts, bias) of a (LoRA-wrapped) packed linear."""
    base = _base(projection)
    if not isinstance(base, PackedLinear):
        return None
    if base.own is not None:
        return base.own, None, None
    if base.packed is None:
        return None
    bias = None if base.bias is None else base.bias.detach()
    return base.packed, base.weight.detach(), bias


class LayerStack:
    """``Transformer.run_layers`` for a model whose decode steps can run as one ``DecodeStack`` call.

    The kernel object is built on the first decode step (the KV caches are bound after the speed-ups)
    and again if the caches are replaced.
    """

    def __init__(self, model: Transformer, ops: ModuleType) -> None:
        self.model, self.ops = model, ops
        self.layers: list[FusedDecoderLayer] = list(model.layers)
        first = _projections(self.layers[0])[0]
        self.lora: LoRALinear | None = first if isinstance(first, LoRALinear) else None
        self._stack: Any = None
        self._caches: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x ``[T, hidden]`` -> ``[T, hidden]`` (a decode step updates x in place, as the fused layers do)."""
        ctx = get_context()
        lora = self._lora_args(x.shape[0]) if ctx.num_prefills == 0 else None
        if lora is None:
            return Transformer.run_layers(self.model, x, cos, sin)
        self._bound().run(x, ctx.positions, ctx.slot_mapping, ctx.row_tables, ctx.row_lens, lora)
        return x

    def _lora_args(self, rows: int) -> list[torch.Tensor] | None:
        """The step's slot groups for the kernel, ``NO_LORA``, or None where the stack does not apply."""
        meta = self.lora.metadata() if self.lora is not None else None
        if meta is None or not meta.has_lora:
            return NO_LORA
        if meta.num_tokens != rows:
            raise ValueError(f"LoRA metadata describes {meta.num_tokens} tokens but the layers got {rows}")
        if meta.groups is None or meta.long_runs:
            return None
        if not meta.groups.tokens.numel():
            return NO_LORA
        return slot_group_args(meta, self.lora.lora_a, self.lora.lora_b)

    def _bound(self) -> Any:
        attn = self.layers[0].self_attn
        if self._stack is None or self._caches is not attn.k_cache:
            self._stack, self._caches = self._build(), attn.k_cache
        return self._stack

    def _build(self) -> Any:
        norms, caches = [], []
        for layer in self.layers:
            norms += [layer.input_layernorm.weight.detach(), layer.post_attention_layernorm.weight.detach()]
            caches += [layer.self_attn.k_cache, layer.self_attn.v_cache]
        packed, plain, biases = zip(*(_packed(p) for layer in self.layers for p in _projections(layer)))
        a = self.layers[0].self_attn
        stack = self.ops.DecodeStack(norms, list(packed), list(plain), list(biases), caches, self.layers[0].cos_sin,
                                     a.num_heads, a.num_kv_heads, self.layers[0].input_layernorm.eps, a.scale,
                                     a.window or 0, MIN_PACKED_ROWS)
        if self.lora is not None:
            wrapped = [p for layer in self.layers for p in _projections(layer)]
            stack.set_lora([p.lora_a for p in wrapped], [p.lora_b for p in wrapped],
                           [list(p.slice_offsets) for p in _projections(self.layers[0])])
        return stack


def _stackable(model: Transformer, ops: ModuleType | None) -> bool:
    if ops is None or not model.layers:
        return False
    if not all(isinstance(layer, FusedDecoderLayer) for layer in model.layers):
        return False
    projections = [p for layer in model.layers for p in _projections(layer)]
    if any(_packed(p) is None for p in projections):
        return False
    wrapped = [isinstance(p, LoRALinear) for p in projections]
    if any(wrapped) and not all(wrapped):
        return False
    return all(rn_storage(p.lora_b) for p in projections) if all(wrapped) else True


def stack_decode_layers(model: Transformer, ops: ModuleType | None) -> bool:
    """Run the model's decode steps through one ``DecodeStack`` call where it applies; returns whether."""
    if not _stackable(model, ops):
        return False
    model.run_layers = LayerStack(model, ops)
    return True
