"""Adapter slots on the device plus a host cache of registered adapters.

Device side: for every fused projection one preallocated stack across layers, ``a [L, max_loras,
n_slices*R, in]`` and ``b [L, max_loras, N, R]`` (R = ``max_lora_rank``; smaller ranks and untargeted
slices stay zero, so they are exact), viewed per layer by the LoRA-wrapped linears; a slot loads in one
copy per target. Slot -1 means "no adapter". Host side: loaded adapters up to ``host_cache_memory`` bytes
(and ``max_cpu_loras`` of them, when set), least recently used evicted first (reloaded from their folder
when needed again). Slots referenced by running sequences are pinned; all mutations happen between steps,
from the engine's thread.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.config import DEFAULT_LORA_CACHE_MEMORY
from engine.huge_pages import huge_zeros
from engine.lora.host_cache import HostCache
from engine.lora.loader import FUSED_TARGETS, BaseShapes, load_adapter
from engine.lora.weights import AdapterError, LoadedAdapter

logger = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One device slot: the adapter (and version) it holds (``None`` = empty or detached) and its pin count."""

    name: str | None = None
    refs: int = 0
    detached: bool = False
    version: int = 0


class AdapterPool:
    """Registers adapters, keeps a host LRU cache, and lends device slots to running sequences."""

    def __init__(self, shapes: BaseShapes, max_loras: int, max_lora_rank: int, max_cpu_loras: int | None = None,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", *,
                 host_cache_memory: int = DEFAULT_LORA_CACHE_MEMORY) -> None:
        if max_loras < 1 or max_lora_rank < 1:
            raise ValueError(f"max_loras and max_lora_rank must be >= 1, got {max_loras}, {max_lora_rank}")
        self.shapes, self.max_rank = shapes, max_lora_rank
        self.dtype, self.device = dtype, torch.device(device)
        self._fused = {fused: self._allocate(fused, max_loras) for fused in FUSED_TARGETS}
        self._slots = [_Slot() for _ in range(max_loras)]
        self.slot_ranks = torch.zeros(max_loras, dtype=torch.long)  # [S] rank each slot holds (CPU kernel hint)
        self._slot_of: dict[str, int] = {}
        self._slot_lru: OrderedDict[int, None] = OrderedDict((i, None) for i in range(max_loras))
        self._paths: dict[str, str] = {}
        self._versions: dict[str, int] = {}  # name -> version of its current weights (never reused)
        self._last_version = 0
        self._host = HostCache(host_cache_memory, max_cpu_loras)
        self._counters = {"slot_loads": 0, "slot_evictions": 0, "host_loads": 0, "host_evictions": 0}

    def _allocate(self, fused: str, max_loras: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every layer's slot stacks of one fused projection as two tensors, so a slot loads in a few copies."""
        targets = FUSED_TARGETS[fused]
        in_features = self.shapes.modules[targets[0]][0]
        out_features = sum(self.shapes.modules[t][1] for t in targets)
        layers, kw = self.shapes.num_layers, {"dtype": self.dtype, "device": self.device}
        a_shape = (layers, max_loras, len(targets) * self.max_rank, in_features)  # [L, S, n*R, in]
        # b [L, S, N, R]; on CPU a transposed view of [L, S, R, N] storage, so the kernels' expand reads
        # row-major [R, N] blocks (kernel and torch path); the Triton kernels need [S, N, R] contiguous per layer.
        if self.device.type == "cpu":  # the slots' rows are read from memory every step: on huge pages
            b_storage = huge_zeros((layers, max_loras, self.max_rank, out_features), self.dtype)
            return huge_zeros(a_shape, self.dtype), b_storage.transpose(2, 3)
        b = torch.zeros((layers, max_loras, out_features, self.max_rank), **kw)
        return torch.zeros(a_shape, **kw), b

    # ---- layout seen by the LoRA-wrapped layers ----
    def stacks(self, layer: int, fused: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(a [S, n*R, in], b [S, N, R])`` slot stacks of one fused projection of one layer: views,
        updated in place."""
        a, b = self._fused[fused]
        return a[layer], b[layer]

    def slice_offsets(self, fused: str) -> tuple[int, ...]:
        """Output offsets of the slices packed in ``fused``: ``(0, q, q+k, q+k+v)`` for ``qkv_proj``."""
        offsets = [0]
        for target in FUSED_TARGETS[fused]:
            offsets.append(offsets[-1] + self.shapes.modules[target][1])
        return tuple(offsets)

    # ---- registry (between steps) ----
    @property
    def registered(self) -> list[str]:
        """Names of every registered adapter."""
        return list(self._paths)

    def registered_path(self, name: str) -> str | None:
        """The folder ``name`` was registered from, or ``None`` if unknown."""
        return self._paths.get(name)

    def register(self, name: str, path: str | Path) -> None:
        """Validate the PEFT folder at ``path`` and make it servable as ``name``.

        Raises :class:`AdapterError` if it cannot be served or the name is taken.
        """
        if name in self._paths:
            raise AdapterError(f"adapter {name!r} is already registered; use replace() to swap its weights")
        self._cache(name, load_adapter(name, path, self.shapes, self.max_rank))
        self._paths[name] = str(path)
        self._new_version(name)

    def replace(self, name: str, path: str | Path) -> None:
        """Swap ``name``'s weights; running sequences keep the old ones until they release their slot."""
        self._require_known(name)
        self._cache(name, load_adapter(name, path, self.shapes, self.max_rank))  # raises before any change
        self._detach(name)
        self._paths[name] = str(path)
        self._new_version(name)

    def unregister(self, name: str) -> None:
        """Forget ``name``; a slot still used by running sequences is freed when they release it."""
        self._require_known(name)
        self._detach(name)
        del self._paths[name]
        del self._versions[name]
        self._host.pop(name)

    def version(self, name: str) -> int | None:
        """The version of ``name``'s current weights (a new one at every register or replace), or None."""
        return self._versions.get(name)

    def slot_version(self, slot: int) -> int:
        """The version of the weights ``slot`` holds (kept while pinned, even after a replace)."""
        return self._slots[slot].version

    def _new_version(self, name: str) -> None:
        self._last_version += 1
        self._versions[name] = self._last_version

    def _require_known(self, name: str) -> None:
        if name not in self._paths:
            raise AdapterError(f"adapter {name!r} is not registered (known: {sorted(self._paths)[:20]})")

    def _detach(self, name: str) -> None:
        slot = self._slot_of.pop(name, None)
        if slot is not None:
            self._slots[slot].detached = True
            if self._slots[slot].refs == 0:
                self._slots[slot] = _Slot()

    # ---- host cache ----
    def _cache(self, name: str, adapter: LoadedAdapter) -> None:
        evicted = self._host.put(name, adapter.to(self.dtype))
        self._counters["host_loads"] += 1
        self._counters["host_evictions"] += len(evicted)
        if evicted:
            logger.debug("host cache full: evicted adapters %s", evicted)

    def _host_adapter(self, name: str) -> LoadedAdapter:
        if name not in self._host:
            logger.info("reloading adapter %r from %s", name, self._paths[name])  # AdapterError if it changed
            self._cache(name, load_adapter(name, self._paths[name], self.shapes, self.max_rank))
        return self._host.get(name)

    # ---- device slots ----
    def acquire(self, name: str) -> int | None:
        """Pin a device slot holding ``name`` and return it; ``None`` when every slot is pinned (wait)."""
        self._require_known(name)
        slot = self._slot_of.get(name)
        if slot is None:
            slot = self._free_slot()
            if slot is None:
                return None
            self._load_slot(slot, name)
        self._slots[slot].refs += 1
        self._slot_lru.move_to_end(slot)
        return slot

    def acquire_all(self, names: list[str]) -> list[int] | None:
        """Pin a slot for every one of ``names`` (a blend), all or none: ``None`` (nothing pinned, nothing
        evicted) when the unpinned slots cannot take the missing ones; an ``AdapterError`` unpins them all.
        """
        for name in names:
            self._require_known(name)
        missing = [name for name in names if name not in self._slot_of]
        held = {self._slot_of[name] for name in names if name in self._slot_of}
        lendable = [i for i, s in enumerate(self._slots) if s.refs == 0 and i not in held]
        if len(missing) > len(lendable):
            return None
        slots: dict[str, int] = {}
        try:  # resident ones first: pinned, they cannot be evicted to make room for the missing ones
            for name in sorted(names, key=lambda n: n in missing):
                slots[name] = self.acquire(name)
        except AdapterError:
            for slot in slots.values():
                self.release(slot)
            raise
        return [slots[name] for name in names]

    def release(self, slot: int) -> None:
        """Unpin one use of ``slot`` (the matching call to a successful :meth:`acquire`)."""
        if not 0 <= slot < len(self._slots) or self._slots[slot].refs == 0:
            raise ValueError(f"release of slot {slot} that is not acquired")
        entry = self._slots[slot]
        entry.refs -= 1
        if entry.refs == 0 and entry.detached:
            self._slots[slot] = _Slot()

    def slot_of(self, name: str) -> int | None:
        """The slot currently holding ``name``'s latest weights, if any."""
        return self._slot_of.get(name)

    def _free_slot(self) -> int | None:
        empty = [i for i in self._slot_lru if self._slots[i].name is None and self._slots[i].refs == 0]
        idle = [i for i in self._slot_lru if self._slots[i].refs == 0]
        chosen = (empty or idle or [None])[0]
        if chosen is not None and self._slots[chosen].name is not None:
            del self._slot_of[self._slots[chosen].name]
            self._counters["slot_evictions"] += 1
            self._slots[chosen] = _Slot()
        return chosen

    def _load_slot(self, slot: int, name: str) -> None:
        adapter = self._host_adapter(name)
        self.slot_ranks[slot] = max((stack.a.shape[1] for stack in adapter.stacks.values()), default=0)
        for fused, (a, b) in self._fused.items():
            a[:, slot].zero_()
            b[:, slot].zero_()
            offsets = self.slice_offsets(fused)
            for i, target in enumerate(FUSED_TARGETS[fused]):
                stack = adapter.stacks.get(target)
                if stack is not None:  # one copy per target for every layer it has
                    rows, rank = self._layer_index(stack.layers), stack.a.shape[1]
                    a[rows, slot, i * self.max_rank:i * self.max_rank + rank] = stack.a
                    b[rows, slot, offsets[i]:offsets[i + 1], :rank] = stack.b
        self._slots[slot] = _Slot(name=name, version=self._versions[name])
        self._slot_of[name] = slot
        self._counters["slot_loads"] += 1

    def _layer_index(self, layers: tuple[int, ...]) -> slice | list[int]:
        """Index of ``layers`` in the stacks' first dimension: a slice (a plain copy) when they are all of them."""
        return slice(None) if layers == tuple(range(self.shapes.num_layers)) else list(layers)

    # ---- accounting ----
    @property
    def num_slots(self) -> int:
        """Device slots (``max_loras``)."""
        return len(self._slots)

    @property
    def bytes_per_slot(self) -> int:
        """Device bytes one slot occupies across all layers and projections."""
        return sum(a[:, 0].nbytes + b[:, 0].nbytes for a, b in self._fused.values())

    def memory(self) -> dict[str, int]:
        """Figures for metrics: slot size, device total, host cache bytes and counts, load/eviction counters."""
        return {
            **self._counters,
            "bytes_per_slot": self.bytes_per_slot,
            "device_bytes": self.bytes_per_slot * len(self._slots),
            "host_bytes": self._host.nbytes,
            "host_adapters": len(self._host),
            "registered_adapters": len(self._paths),
            "resident_adapters": len(self._slot_of),
            "pinned_slots": sum(1 for s in self._slots if s.refs > 0),
        }
