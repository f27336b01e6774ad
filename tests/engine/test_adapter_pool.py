"""Adapter pool: slots, host LRU, pinning, replace/unregister, accounting, and parity with PEFT per module."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lora_testing import tiny_llama, write_adapter
from peft import PeftModel
from safetensors.torch import load_file
from torch import nn

from engine.lora.loader import FUSED_TARGETS, AdapterError, BaseShapes
from engine.lora.pool import AdapterPool
from engine.lora.linear import LoRALinear
from kernels import LoRAMetadata

SHAPES = BaseShapes.from_hf_config(tiny_llama().config)
SPECS = {"ad1": dict(r=8, alpha=16), "ad2": dict(r=4, alpha=8, use_rslora=True),
         "ad3": dict(r=16, alpha=16, targets=["q_proj", "v_proj"]), "ad4": dict(r=2, alpha=2)}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pool")
    return {name: write_adapter(root / name, seed=i, **spec) for i, (name, spec) in enumerate(SPECS.items())}


def make_pool(folders: dict[str, Path], max_loras: int = 2, max_cpu_loras: int = 4) -> AdapterPool:
    pool = AdapterPool(SHAPES, max_loras=max_loras, max_lora_rank=16, max_cpu_loras=max_cpu_loras)
    for name, folder in folders.items():
        pool.register(name, folder)
    return pool


def test_acquire_reuses_resident_slot_and_waits_when_all_pinned(folders: dict[str, Path]) -> None:
    pool = make_pool(folders)
    first, again = pool.acquire("ad1"), pool.acquire("ad1")
    second = pool.acquire("ad2")
    assert first == again and {first, second} == {0, 1}
    assert pool.acquire("ad3") is None  # both slots pinned: the request waits
    pool.release(second)
    assert pool.acquire("ad3") == second and pool.slot_of("ad2") is None
    assert pool.memory()["pinned_slots"] == 2


def test_evicts_least_recently_used_idle_slot(folders: dict[str, Path]) -> None:
    pool = make_pool(folders)
    s1, s2 = pool.acquire("ad1"), pool.acquire("ad2")
    pool.release(s1)
    pool.release(s2)
    pool.release(pool.acquire("ad1"))  # ad1 is now the most recently used
    assert pool.acquire("ad3") == s2 and pool.slot_of("ad1") == s1
    memory = pool.memory()
    assert (memory["slot_loads"], memory["slot_evictions"]) == (3, 1)


def test_host_cache_is_lru_and_reloads_evicted(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=1, max_cpu_loras=2)
    assert pool.memory()["host_adapters"] == 2  # ad3, ad4 cached; ad1, ad2 evicted after validation
    slot = pool.acquire("ad1")  # reloaded from its folder
    assert slot == 0 and pool.memory()["host_adapters"] == 2
    a, _ = pool.stacks(0, "qkv_proj")
    assert a[slot].abs().sum() > 0


def test_host_cache_holds_the_adapters_its_bytes_allow(folders: dict[str, Path]) -> None:
    sizes = {name: make_pool({name: folders[name]}).memory()["host_bytes"] for name in ("ad3", "ad4")}
    pool = AdapterPool(SHAPES, max_loras=1, max_lora_rank=16, host_cache_memory=sum(sizes.values()))
    for name, folder in folders.items():  # ad1 .. ad4, registered in order
        pool.register(name, folder)
    memory = pool.memory()
    assert memory["host_adapters"] == 2 and memory["host_bytes"] == sum(sizes.values())
    assert memory["host_evictions"] == 2  # ad1, ad2: validated, then dropped for the bytes of ad3 and ad4
    pool.acquire("ad1")  # reloaded; the least recently used (ad3) makes room
    assert pool.memory()["host_loads"] == 5


def test_slot_weights_are_zero_padded_and_cleared(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=1)
    pool.release(pool.acquire("ad1"))
    slot = pool.acquire("ad3")  # rank 16, q/v only, replaces ad1 (all targets, rank 8)
    a, b = pool.stacks(0, "qkv_proj")
    k_rows = slice(16, 32)  # the k slice of the fused A
    assert a[slot, k_rows].abs().sum() == 0 and b[slot, 32:40].abs().sum() == 0
    a_mlp, b_mlp = pool.stacks(1, "gate_up_proj")
    assert a_mlp[slot].abs().sum() == 0 and b_mlp[slot].abs().sum() == 0


def test_slot_of_an_adapter_on_some_layers(folders: dict[str, Path], tmp_path: Path) -> None:
    """Its layers get its (scaled) pairs in their slices, the others none of the slot's previous weights."""
    partial = write_adapter(tmp_path / "top", seed=7, r=4, alpha=8, targets=["k_proj", "up_proj"], layers=[1])
    pool = make_pool(folders, max_loras=1)
    pool.register("top", partial)
    pool.release(pool.acquire("ad1"))  # every layer and target, rank 8
    slot = pool.acquire("top")
    saved = load_file(partial / "adapter_model.safetensors")
    key = "base_model.model.model.layers.1.{}.lora_{}.weight"
    qkv_a, qkv_b = pool.stacks(1, "qkv_proj")
    torch.testing.assert_close(qkv_a[slot, 16:20], saved[key.format("self_attn.k_proj", "A")])
    torch.testing.assert_close(qkv_b[slot, 32:48, :4], saved[key.format("self_attn.k_proj", "B")] * 2.0)
    mlp_a, mlp_b = pool.stacks(1, "gate_up_proj")
    torch.testing.assert_close(mlp_a[slot, 16:20], saved[key.format("mlp.up_proj", "A")])
    torch.testing.assert_close(mlp_b[slot, 48:, :4], saved[key.format("mlp.up_proj", "B")] * 2.0)
    for fused in FUSED_TARGETS:  # layer 0 and every untargeted slice of layer 1: zero
        a0, b0 = pool.stacks(0, fused)
        assert a0[slot].abs().sum() == 0 and b0[slot].abs().sum() == 0
    assert qkv_a[slot, :16].abs().sum() == 0 and qkv_a[slot, 20:].abs().sum() == 0
    assert mlp_a[slot, :16].abs().sum() == 0 and pool.stacks(1, "o_proj")[0][slot].abs().sum() == 0


def test_replace_keeps_running_sequences_on_old_weights(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=2)
    old = pool.acquire("ad1")
    before = pool.stacks(0, "o_proj")[0][old].clone()
    pool.replace("ad1", folders["ad4"])
    new = pool.acquire("ad1")
    assert new != old and torch.equal(pool.stacks(0, "o_proj")[0][old], before)
    pool.release(old)
    assert pool.memory()["resident_adapters"] == 1 and pool.acquire("ad2") == old


def test_unregister_frees_slot_after_release_and_no_leak(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=2)
    slot = pool.acquire("ad2")
    pool.unregister("ad2")
    with pytest.raises(AdapterError, match="not registered"):
        pool.acquire("ad2")
    pool.release(slot)
    for _ in range(20):  # churn through every adapter: slots and host cache stay bounded
        for name in ("ad1", "ad3", "ad4"):
            pool.release(pool.acquire(name))
    memory = pool.memory()
    assert memory["pinned_slots"] == 0 and memory["resident_adapters"] == 2 and memory["host_adapters"] <= 4


def test_register_errors(folders: dict[str, Path], tmp_path: Path) -> None:
    pool = make_pool(folders)
    with pytest.raises(AdapterError, match="already registered"):
        pool.register("ad1", folders["ad1"])
    with pytest.raises(AdapterError, match="does not exist"):
        pool.register("ghost", tmp_path / "ghost")
    with pytest.raises(ValueError, match="not acquired"):
        pool.release(1)
    assert "ghost" not in pool.registered


def test_memory_accounting(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=3)
    per_layer = sum(a[0].numel() + b[0].numel() for a, b in (pool.stacks(0, f) for f in FUSED_TARGETS))
    memory = pool.memory()
    assert memory["bytes_per_slot"] == 2 * per_layer * 4
    assert memory["device_bytes"] == 3 * memory["bytes_per_slot"] and memory["host_bytes"] > 0


def fused_base(peft_layer: nn.Module, fused: str) -> tuple[nn.Linear, list[nn.Module]]:
    """The fused nn.Linear of one layer's targets, and PEFT's modules for them."""
    parents = {"qkv_proj": "self_attn", "o_proj": "self_attn", "gate_up_proj": "mlp", "down_proj": "mlp"}
    mods = [getattr(getattr(peft_layer, parents[fused]), t) for t in FUSED_TARGETS[fused]]
    bases = [getattr(m, "base_layer", m) for m in mods]
    linear = nn.Linear(bases[0].in_features, sum(b.out_features for b in bases), bias=False)
    linear.weight.data = torch.cat([b.weight for b in bases])
    return linear, mods


@pytest.mark.parametrize("fused", list(FUSED_TARGETS))
def test_pool_slots_match_peft_per_module(folders: dict[str, Path], fused: str) -> None:
    rows = ["ad1", "ad2", "__base__", "ad3", "ad1"]
    peft = PeftModel.from_pretrained(tiny_llama(), folders["ad1"], adapter_name="ad1")
    for name in ("ad2", "ad3"):
        peft.load_adapter(folders[name], adapter_name=name)
    peft.eval()
    pool = make_pool(folders, max_loras=3)
    slots = [pool.acquire(r) if r != "__base__" else -1 for r in rows]
    meta = LoRAMetadata.build([2] * len(rows), slots, [1.0] * len(rows))
    x = torch.randn(len(rows), 2, 48 if fused == "down_proj" else 32)  # [batch, seq, in]
    for index, layer in enumerate(peft.base_model.model.model.layers):
        linear, mods = fused_base(layer, fused)
        a, b = pool.stacks(index, fused)
        with torch.no_grad():
            expected = torch.cat([m(x, adapter_names=rows) for m in mods], dim=-1)
            got = LoRALinear(linear, a, b, pool.slice_offsets(fused), lambda: meta)(x)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
