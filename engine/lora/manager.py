"""The engine's LoRA side: adapter registration, a slot per running sequence, and the step metadata.

Glue between the torch-free scheduler (which asks :meth:`LoRAManager.admit` before running a sequence
and calls :meth:`release` when it finishes), the adapter pool, and the model runner (which asks for
:meth:`step_metadata` once per step, shared by every LoRA-wrapped layer).
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from typing import Protocol

from torch import nn

from engine.lora.loader import AdapterError
from engine.lora.pool import AdapterPool
from engine.lora.linear import apply_lora, shapes_from_model
from engine.lora.request import MAX_BLEND, AdapterRequest, LoRARequest
from kernels import LoRAMetadata


class _Seq(Protocol):
    seq_id: int
    lora_request: AdapterRequest | None


class _Chunk(Protocol):
    seq: _Seq
    num_tokens: int


class LoRAManager:
    """Owns the adapter pool of one engine and wraps its model's projections once."""

    def __init__(self, model: nn.Module, *, max_loras: int, max_lora_rank: int, max_cpu_loras: int | None,
                 host_cache_memory: int, max_tokens: int, max_seqs: int) -> None:
        weight = model.embed_tokens.weight
        self._pool = AdapterPool(shapes_from_model(model), max_loras, max_lora_rank, max_cpu_loras,
                                 dtype=weight.dtype, device=weight.device, host_cache_memory=host_cache_memory)
        apply_lora(model, self._pool)
        self.metadata = LoRAMetadata.allocate(max_tokens, max_seqs, weight.device, max_components=MAX_BLEND)
        self.metadata.slot_ranks = self._pool.slot_ranks
        self._slots: dict[int, list[int]] = {}  # seq_id -> pinned slot of each of its adapters
        self._failures: dict[_Seq, str] = {}  # refused sequences -> why, until take_failures()

    def register(self, request: LoRARequest) -> bool:
        """Make ``request``'s adapter servable (load + validate now); a new path replaces the weights.

        Returns True when weights were replaced (keys/values cached with the old ones are stale)."""
        known = self._pool.registered_path(request.name)
        if known is None:
            self._pool.register(request.name, request.path)
        elif known != str(request.path):
            self._pool.replace(request.name, request.path)
            return True
        return False

    def unregister(self, name: str) -> None:
        """Forget adapter ``name``; sequences already running on it finish on their slot."""
        self._pool.unregister(name)

    @property
    def registered(self) -> list[str]:
        """Names of every registered adapter."""
        return self._pool.registered

    def admit(self, seq: _Seq) -> bool:
        """Pin a slot for each of ``seq``'s adapters, all or none; False means wait (the unpinned slots
        cannot hold them all now) or failed.

        An adapter that cannot be loaded any more (its folder deleted or changed) fails ``seq``
        alone: it is reported by :meth:`take_failures`, never raised into the scheduler.
        """
        if seq.lora_request is None or seq.seq_id in self._slots:
            return True
        try:
            slots = self._acquire(seq.lora_request.components)
        except AdapterError as exc:
            self._failures[seq] = str(exc)
            return False
        if slots is None:
            return False
        self._slots[seq.seq_id] = slots
        return True

    def take_failures(self) -> dict[_Seq, str]:
        """Sequences :meth:`admit` refused for good since the last call, with the reason (then cleared)."""
        failures, self._failures = self._failures, {}
        return failures

    def _acquire(self, parts: tuple[LoRARequest, ...]) -> list[int] | None:
        for part in parts:
            if self._pool.registered_path(part.name) is None:  # removed while it waited
                self.register(part)
        return self._pool.acquire_all([part.name for part in parts])

    def check_fits(self, request: AdapterRequest) -> None:
        """``ValueError`` when ``request`` blends more adapters than there are slots (it would wait forever)."""
        slots = self._pool.num_slots
        if len(request.components) > slots:
            raise ValueError(f"lora_request {request.name!r} blends {len(request.components)} adapters (one slot "
                             f"each) but the engine has max_loras={slots}; raise max_loras or blend fewer styles")

    def release(self, seq: _Seq) -> None:
        """Unpin ``seq``'s slots (finished or aborted); no-op for base sequences."""
        for slot in self._slots.pop(seq.seq_id, ()):
            self._pool.release(slot)

    def cache_key(self, seq: _Seq) -> tuple | None:
        """The identity of the weights ``seq``'s keys/values are computed with, for the prefix cache.

        ``((name, version, scale), ...)``, one triple per adapter (a blend has several, so it never shares
        blocks with a single adapter or another blend): its pinned slots' versions, else the current ones;
        ``()`` without adapter; None while an adapter is unregistered (it gets a new version when admitted).
        """
        request = seq.lora_request
        if request is None:
            return ()
        slots = self._slots.get(seq.seq_id)
        versions = [self._pool.version(part.name) for part in request.components] if slots is None \
            else [self._pool.slot_version(slot) for slot in slots]
        if None in versions:
            return None
        return tuple((part.name, version, part.lora_scale) for part, version in zip(request.components, versions))

    def slots(self, seq: _Seq) -> list[int]:
        """The slots ``seq`` runs on, one per adapter (empty without adapter)."""
        return self._slots.get(seq.seq_id, [])

    def step_metadata(self, chunks: Seq[_Chunk]) -> LoRAMetadata:
        """Fill the preallocated metadata for this step's chunks (in row order)."""
        parts = [self._components(c.seq) for c in chunks]
        first = [p[0] if p else (-1, 1.0) for p in parts]
        extra = [p[1:] for p in parts]
        self.metadata.fill([c.num_tokens for c in chunks], [s for s, _ in first], [c for _, c in first],
                           extra if any(extra) else None)
        return self.metadata

    def _components(self, seq: _Seq) -> list[tuple[int, float]]:
        """``(slot, scale)`` of each adapter ``seq`` runs with."""
        if seq.lora_request is None:
            return []
        return [(slot, part.lora_scale) for slot, part in zip(self.slots(seq), seq.lora_request.components)]

    def stats(self) -> dict[str, int]:
        """Pool memory and occupancy figures for metrics (sums every host adapter's bytes: not per step)."""
        return self._pool.memory()


def lora_manager_for(model: nn.Module, config: object) -> LoRAManager | None:
    """A manager when ``config.enable_lora``; sized from the engine config."""
    if not getattr(config, "enable_lora", False):
        return None
    max_tokens = max(config.max_num_batched_tokens, config.max_num_seqs)
    return LoRAManager(model, max_loras=config.max_loras, max_lora_rank=config.max_lora_rank,
                       max_cpu_loras=config.max_cpu_loras, host_cache_memory=config.lora_cache_memory,
                       max_tokens=max_tokens, max_seqs=config.max_num_seqs)

