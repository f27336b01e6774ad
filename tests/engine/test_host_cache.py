"""The host cache of loaded adapters: LRU order, the byte bound, the optional count bound."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.lora.host_cache import HostCache


@dataclass(frozen=True)
class Sized:
    """Stands in for a LoadedAdapter: the cache only reads ``nbytes``."""

    nbytes: int


def test_evicts_least_recently_used_beyond_the_bytes() -> None:
    cache = HostCache(max_bytes=100)
    assert cache.put("a", Sized(40)) == [] and cache.put("b", Sized(40)) == []
    cache.get("a")  # a is now the most recent: b goes first
    assert cache.put("c", Sized(40)) == ["b"]
    assert "a" in cache and "c" in cache and "b" not in cache and cache.nbytes == 80


def test_count_bound_and_replacing_a_name() -> None:
    cache = HostCache(max_bytes=10**6, max_adapters=2)
    cache.put("a", Sized(1))
    cache.put("b", Sized(1))
    assert cache.put("a", Sized(5)) == [] and cache.nbytes == 6  # replaced, not counted twice
    assert cache.put("c", Sized(1)) == ["b"] and len(cache) == 2


def test_an_adapter_above_the_budget_stays_alone() -> None:
    cache = HostCache(max_bytes=10)
    cache.put("small", Sized(5))
    assert cache.put("big", Sized(50)) == ["small"] and "big" in cache and cache.nbytes == 50
    cache.pop("big")
    assert len(cache) == 0 and cache.nbytes == 0


def test_rejects_empty_bounds() -> None:
    with pytest.raises(ValueError, match="host cache bounds"):
        HostCache(max_bytes=0)
    with pytest.raises(ValueError, match="host cache bounds"):
        HostCache(max_bytes=10, max_adapters=0)
