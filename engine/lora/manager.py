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
from engine.lora.request import LoRARequest
from kernels import LoRAMetadata


class _Seq(Protocol):
    seq_id: int
    lora_request: LoRARequest | None


class _Chunk(Protocol):
    seq: _Seq
    num_tokens: int


class LoRAManager:
    """Owns the adapter pool of one engine and wraps its model's projections once."""

    def __init__(self, model: nn.Module, *, max_loras: int, max_lora_rank: int, max_cpu_loras: int,
                 max_tokens: int, max_seqs: int) -> None:
        weight = model.embed_tokens.weight
        self._pool = AdapterPool(shapes_from_model(model), max_loras, max_lora_rank, max_cpu_loras,
                                 dtype=weight.dtype, device=weight.device)
        apply_lora(model, self._pool)
        self.metadata = LoRAMetadata.allocate(max_tokens, max_seqs, weight.device)
        self.metadata.slot_ranks = self._pool.slot_ranks
        self._slots: dict[int, int] = {}  # seq_id -> pinned slot
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
        """Pin a slot for ``seq``'s adapter; False means wait (every slot is pinned) or failed.

        An adapter that cannot be loaded any more (its folder deleted or changed) fails ``seq``
        alone: it is reported by :meth:`take_failures`, never raised into the scheduler.
        """
        if seq.lora_request is None or seq.seq_id in self._slots:
            return True
        try:
            slot = self._acquire(seq.lora_request)
        except AdapterError as exc:
            self._failures[seq] = str(exc)
            return False
        if slot is None:
            return False
        self._slots[seq.seq_id] = slot
        return True

    def take_failures(self) -> dict[_Seq, str]:
        """Sequences :meth:`admit` refused for good since the last call, with the reason (then cleared)."""
        failures, self._failures = self._failures, {}
        return failures

    def _acquire(self, request: LoRARequest) -> int | None:
        if self._pool.registered_path(request.name) is None:  # removed while it waited
            self.register(request)
        return self._pool.acquire(request.name)

    def release(self, seq: _Seq) -> None:
        """Unpin ``seq``'s slot (finished or aborted); no-op for base sequences."""
        slot = self._slots.pop(seq.seq_id, None)
        if slot is not None:
            self._pool.release(slot)

    def cache_key(self, seq: _Seq) -> tuple | None:
        """The identity of the weights ``seq``'s keys/values are computed with, for the prefix cache.

        ``((name, version, scale),)``: its pinned slot's version, else the current one; ``()`` without
        adapter; None while its adapter is unregistered (it gets a new version when admitted).
        """
        request = seq.lora_request
        if request is None:
            return ()
        slot = self._slots.get(seq.seq_id)
        version = self._pool.version(request.name) if slot is None else self._pool.slot_version(slot)
        return None if version is None else ((request.name, version, request.lora_scale),)

    def slot(self, seq: _Seq) -> int:
        """The slot ``seq`` runs on, -1 without adapter."""
        return self._slots.get(seq.seq_id, -1)

    def step_metadata(self, chunks: Seq[_Chunk]) -> LoRAMetadata:
        """Fill the preallocated metadata for this step's chunks (in row order)."""
        lora_scales = [c.seq.lora_request.lora_scale if c.seq.lora_request else 1.0 for c in chunks]
        self.metadata.fill([c.num_tokens for c in chunks], [self.slot(c.seq) for c in chunks], lora_scales)
        return self.metadata

    def stats(self) -> dict[str, int]:
        """Pool memory and occupancy figures for metrics (sums every host adapter's bytes: not per step)."""
        return self._pool.memory()


def lora_manager_for(model: nn.Module, config: object) -> LoRAManager | None:
    """A manager when ``config.enable_lora``; sized from the engine config."""
    if not getattr(config, "enable_lora", False):
        return None
    max_tokens = max(config.max_num_batched_tokens, config.max_num_seqs)
    return LoRAManager(model, max_loras=config.max_loras, max_lora_rank=config.max_lora_rank,
                       max_cpu_loras=config.max_cpu_loras, max_tokens=max_tokens, max_seqs=config.max_num_seqs)

