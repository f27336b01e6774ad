"""The LoRA-wrapped linear against PEFT's LoRA layers with mixed ``adapter_names`` (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from engine.lora.linear import LoRALinear
from kernels import LoRAMetadata

ROWS = ["x1", "__base__", "x2", "x3", "x1"]
ADAPTERS = {"x1": dict(r=8, lora_alpha=16), "x2": dict(r=2, lora_alpha=3, use_rslora=True),
            "x3": dict(r=4, lora_alpha=4)}
MAX_RANK = 8


class Attn(nn.Module):
    """Three separate projections, the layout PEFT adapts (and our fused qkv packs)."""

    def __init__(self) -> None:
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(16, 12), nn.Linear(16, 4), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.q_proj(x), self.k_proj(x), self.v_proj(x)], dim=-1)


def peft_model(targets: dict[str, list[str]]) -> nn.Module:
    """``Attn`` under PEFT with adapters x1, x2, x3 (random non-zero B) on the given targets."""
    torch.manual_seed(0)
    model = None
    for name, kwargs in ADAPTERS.items():
        config = LoraConfig(target_modules=targets[name], init_lora_weights=False, **kwargs)
        if model is None:
            model = get_peft_model(Attn(), config, adapter_name=name)
        else:
            model.add_adapter(name, config)
    return model.eval()


def stacks(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Slot stacks a [3, 3*R, 16], b [3, 20, R] from the PEFT layers (slot i = adapter i), scaling folded."""
    a, b = torch.zeros(3, 3 * MAX_RANK, 16), torch.zeros(3, 20, MAX_RANK)
    lo = 0
    for i, proj in enumerate(["q_proj", "k_proj", "v_proj"]):
        layer = getattr(model.base_model.model, proj)
        hi = lo + layer.out_features
        for slot, name in enumerate(ADAPTERS):
            if name in getattr(layer, "lora_A", {}):
                r = layer.r[name]
                a[slot, i * MAX_RANK:i * MAX_RANK + r] = layer.lora_A[name].weight
                b[slot, lo:hi, :r] = layer.lora_B[name].weight * layer.scaling[name]
        lo = hi
    return a, b


def fused_wrapper(model: nn.Module, meta: LoRAMetadata) -> LoRALinear:
    base = model.base_model.model
    fused = nn.Linear(16, 20)
    with torch.no_grad():
        parts = [getattr(getattr(base, p), "base_layer", getattr(base, p)) for p in ["q_proj", "k_proj", "v_proj"]]
        fused.weight.copy_(torch.cat([p.weight for p in parts]))
        fused.bias.copy_(torch.cat([p.bias for p in parts]))
    a, b = stacks(model)
    return LoRALinear(fused, a, b, (0, 12, 16, 20), metadata=lambda: meta)


def slots_of(rows: list[str]) -> list[int]:
    return [list(ADAPTERS).index(r) if r in ADAPTERS else -1 for r in rows]


@pytest.mark.parametrize("targets", [
    {"x1": ["q_proj"], "x2": ["q_proj"], "x3": ["q_proj"]},
    {"x1": ["q_proj", "k_proj", "v_proj"], "x2": ["k_proj", "v_proj"], "x3": ["q_proj", "v_proj"]},
], ids=["single_linear", "fused_qkv_partial_targets"])
def test_wrapper_matches_peft_mixed_batch(targets: dict[str, list[str]]) -> None:
    model = peft_model(targets)
    x = torch.randn(len(ROWS), 3, 16)  # [batch, seq, in]
    meta = LoRAMetadata.build([3] * len(ROWS), slots_of(ROWS), [1.0] * len(ROWS))
    with torch.no_grad():
        expected = model(x, adapter_names=ROWS)  # [batch, seq, 20]
        got = fused_wrapper(model, meta)(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(expected[0], model(x, adapter_names=["__base__"] * 5)[0])


def test_per_request_scale_multiplies_the_delta() -> None:
    model = peft_model({name: ["q_proj", "v_proj"] for name in ADAPTERS})
    x = torch.randn(len(ROWS), 16)  # one token per row (decode)
    scales = [0.5, 1.0, 2.0, 0.0, 1.5]
    meta = LoRAMetadata.build([1] * len(ROWS), slots_of(ROWS), scales)
    with torch.no_grad():
        base = model(x[:, None], adapter_names=["__base__"] * len(ROWS))[:, 0]
        full = model(x[:, None], adapter_names=ROWS)[:, 0]
        got = fused_wrapper(model, meta)(x)
    expected = base + torch.tensor(scales)[:, None] * (full - base)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_wrapper_without_step_metadata_is_the_base() -> None:
    base = nn.Linear(16, 20)
    wrapper = LoRALinear(base, torch.ones(2, 3 * 4, 16), torch.ones(2, 20, 4), (0, 12, 16, 20), lambda: None)
    x = torch.randn(4, 16)
    assert torch.equal(wrapper(x), base(x))


def test_wrapper_rejects_mismatched_stacks() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        LoRALinear(nn.Linear(16, 20), torch.ones(2, 4, 8), torch.ones(2, 20, 4), (0, 20), lambda: None)


def test_wrapper_follows_a_base_swapped_after_wrapping() -> None:
    """The CPU speed-ups pack the linears after the LoRA wrap (``pack_linears`` swaps ``wrapper.base``):
    the wrapper must run the packed base it holds now, not the plain one it was built with."""
    from engine.packed_linear import PackedLinear, pack_linears

    wrapper = LoRALinear(nn.Linear(16, 8, bias=False), torch.zeros(2, 8, 16), torch.zeros(2, 8, 8), (0, 8),
                         metadata=lambda: None)
    assert pack_linears(wrapper) == 1 and isinstance(wrapper.base, PackedLinear)
    calls = []
    wrapper.base.forward = lambda x: calls.append(x) or torch.zeros(x.shape[0], 8)
    wrapper(torch.randn(4, 16))
    assert len(calls) == 1
