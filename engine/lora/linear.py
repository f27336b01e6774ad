"""LoRA-wrapped linears: swapped into a loaded model so the model file never mentions LoRA.

``apply_lora(model, pool)`` replaces each layer's fused ``qkv_proj``, ``o_proj``, ``gate_up_proj`` and
``down_proj`` with a :class:`LoRALinear` reading the pool's slot stacks in place (the base weights are
shared, never copied). Per-step metadata comes from a getter, by default the engine's step context.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from engine.context import get_context
from engine.lora.loader import FUSED_TARGETS, BaseShapes
from engine.lora.pool import AdapterPool
from kernels import LoRAMetadata, add_lora

MetadataGetter = Callable[[], "LoRAMetadata | None"]
# fused module name -> attribute path of its parent inside a decoder layer
_PARENTS = {"qkv_proj": "self_attn", "o_proj": "self_attn", "gate_up_proj": "mlp", "down_proj": "mlp"}


def context_metadata() -> LoRAMetadata | None:
    """The LoRA metadata of the running step, from ``engine.context`` (``None`` outside a step)."""
    return getattr(get_context(), "lora", None)


class LoRALinear(nn.Module):
    """``y = base(x)`` then, per token with slot ``s >= 0``, ``y[t, slice] += scale[t] * B[s] A[s] x[t]``.

    ``lora_a [S, n_slices*R, in]`` and ``lora_b [S, out, R]`` are views of the pool's stacks.
    """

    def __init__(self, base: nn.Linear, lora_a: torch.Tensor, lora_b: torch.Tensor,
                 slice_offsets: tuple[int, ...], metadata: MetadataGetter = context_metadata) -> None:
        super().__init__()
        if lora_a.shape[2] != base.in_features or lora_b.shape[1] != base.out_features:
            raise ValueError(f"LoRA stacks {tuple(lora_a.shape)} / {tuple(lora_b.shape)} do not fit "
                             f"Linear({base.in_features}, {base.out_features})")
        self.base = base
        self.lora_a, self.lora_b = lora_a, lora_b
        self.slice_offsets = slice_offsets
        self.metadata = metadata

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., in] -> [..., out]; tokens are the flattened leading dims, in metadata order."""
        # self.base.forward, looked up per call: the CPU speed-ups swap the base for a packed linear after
        # wrapping; not self.base(x): Module.__call__ adds ~3 us to each of 120 calls a step
        y = self.base.forward(x)
        meta = self.metadata()
        if meta is None or not meta.has_lora:
            return y
        # the engine passes [T, in] contiguous: build no views on that hot path
        flat_x = x if x.dim() == 2 and x.is_contiguous() else x.reshape(-1, x.shape[-1]).contiguous()  # [T, in]
        flat_y = y if y.dim() == 2 else y.view(-1, y.shape[-1])  # [T, out]
        add_lora(flat_y, flat_x, self.lora_a, self.lora_b, meta, self.slice_offsets)
        return y


def _layers(model: nn.Module) -> nn.ModuleList:
    return getattr(model, "layers", None) or model.model.layers


def shapes_from_model(model: nn.Module) -> BaseShapes:
    """The adapter targets' ``(in, out)`` shapes read off the model's fused linears."""
    layer = _layers(model)[0]
    attn, mlp = layer.self_attn, layer.mlp
    q, k, v = attn.qkv_proj.output_sizes
    gate, up = mlp.gate_up_proj.output_sizes
    hidden, inter = attn.qkv_proj.in_features, mlp.down_proj.in_features
    modules = {"q_proj": (hidden, q), "k_proj": (hidden, k), "v_proj": (hidden, v),
               "o_proj": (attn.o_proj.in_features, attn.o_proj.out_features),
               "gate_proj": (hidden, gate), "up_proj": (hidden, up), "down_proj": (inter, mlp.down_proj.out_features)}
    return BaseShapes(len(_layers(model)), modules, _weight_norms(model))


def _weight_norms(model: nn.Module) -> dict[tuple[int, str], float]:
    """Frobenius norm of each target's base weight (its rows of the fused projection), per layer."""
    norms = {}
    for index, layer in enumerate(_layers(model)):
        for fused, parent_name in _PARENTS.items():
            linear = getattr(getattr(layer, parent_name), fused)
            linear = linear.base if isinstance(linear, LoRALinear) else linear
            weight = linear.weight.detach()  # [out, in]
            sizes = getattr(linear, "output_sizes", None) or [weight.shape[0]]
            for target, rows in zip(FUSED_TARGETS[fused], weight.split(list(sizes))):
                norms[(index, target)] = float(torch.linalg.vector_norm(rows, dtype=torch.float32))
    return norms


def apply_lora(model: nn.Module, pool: AdapterPool, metadata: MetadataGetter = context_metadata) -> nn.Module:
    """Wrap every fused projection of ``model.layers[i]`` (or ``model.model.layers[i]``) in place."""
    layers = _layers(model)
    if len(layers) != pool.shapes.num_layers:
        raise ValueError(f"model has {len(layers)} layers, the adapter pool {pool.shapes.num_layers}")
    for index, layer in enumerate(layers):
        for fused, parent_name in _PARENTS.items():
            parent = getattr(layer, parent_name)
            base = getattr(parent, fused)
            base = base.base if isinstance(base, LoRALinear) else base
            a, b = pool.stacks(index, fused)
            setattr(parent, fused, LoRALinear(base, a, b, pool.slice_offsets(fused), metadata))
    return model
