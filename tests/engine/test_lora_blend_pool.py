"""The adapter pool pins a blend's adapters all or none, and the blend request type's rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lora_testing import tiny_llama, write_adapter

from engine.lora.loader import AdapterError, BaseShapes
from engine.lora.pool import AdapterPool
from engine.lora.request import LoRABlend, LoRARequest

SHAPES = BaseShapes.from_hf_config(tiny_llama().config)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("blend-pool")
    return {name: write_adapter(root / name, seed=i, r=4, alpha=8) for i, name in enumerate(["a", "b", "c", "d"])}


def make_pool(folders: dict[str, Path], max_loras: int, max_cpu_loras: int = 4) -> AdapterPool:
    pool = AdapterPool(SHAPES, max_loras=max_loras, max_lora_rank=8, max_cpu_loras=max_cpu_loras)
    for name, folder in folders.items():
        pool.register(name, folder)
    return pool


def test_all_or_nothing_when_the_free_slots_are_too_few(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=3)
    held = pool.acquire("d")
    before = pool.memory()
    assert pool.acquire_all(["a", "b", "c"]) is None  # two unpinned slots for three adapters: wait
    after = pool.memory()
    assert (after["pinned_slots"], after["slot_loads"], after["slot_evictions"]) == (1, before["slot_loads"], 0)
    pool.release(held)
    slots = pool.acquire_all(["a", "b", "c"])
    assert slots is not None and sorted(slots) == [0, 1, 2] and pool.slot_of("d") is None
    assert [pool.slot_of(name) for name in "abc"] == slots and pool.memory()["pinned_slots"] == 3


def test_resident_adapters_of_the_blend_are_not_evicted_for_its_missing_ones(folders: dict[str, Path]) -> None:
    pool = make_pool(folders, max_loras=2)
    b_slot = pool.acquire("b")
    pool.release(b_slot)
    pool.release(pool.acquire("a"))  # b is now the least recently used idle slot
    loads = pool.memory()["slot_loads"]
    assert pool.acquire_all(["c", "b"]) == [1 - b_slot, b_slot]  # c takes a's slot, b stays where it was
    assert pool.memory()["slot_loads"] == loads + 1 and pool.slot_of("a") is None


def test_a_failing_adapter_unpins_the_others(folders: dict[str, Path], tmp_path: Path) -> None:
    pool = make_pool(folders, max_loras=3, max_cpu_loras=1)
    gone = shutil.copytree(folders["c"], tmp_path / "gone")
    pool.register("gone", gone)
    pool.register("e", folders["d"])  # the host cache (1 adapter) keeps e: gone must reload from its folder
    shutil.rmtree(gone)
    with pytest.raises(AdapterError, match="gone"):
        pool.acquire_all(["a", "gone"])
    assert pool.memory()["pinned_slots"] == 0


def test_blend_rules() -> None:
    a, b, c, d = (LoRARequest(name, f"/x/{name}", 0.5) for name in "abcd")
    assert LoRABlend([a, b]).name == "a+b" and LoRABlend([a, b]).components == (a, b)
    assert LoRABlend([a, b]) == LoRABlend((a, b)) and hash(LoRABlend([a, b])) == hash(LoRABlend((a, b)))
    assert a.components == (a,)
    with pytest.raises(ValueError, match="2 to 3"):
        LoRABlend([a])
    with pytest.raises(ValueError, match="2 to 3"):
        LoRABlend([a, b, c, d])
    with pytest.raises(ValueError, match="once"):
        LoRABlend([a, LoRARequest("a", "/y", 0.3)])
    with pytest.raises(ValueError, match=r"\(0, 2\]"):
        LoRABlend([a, LoRARequest("z", "/z", 0.0)])
    with pytest.raises(ValueError, match="lora_scale"):
        LoRABlend([a, LoRARequest("z", "/z", float("nan"))])
