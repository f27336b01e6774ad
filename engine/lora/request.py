"""Naming an adapter for a request, as vLLM's ``LoRARequest`` does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoRARequest:
    """Use adapter ``name`` (a PEFT folder at ``path``, known to the engine by ``int_id`` >= 1).

    ``scale`` is the per-request strength in [0, 2] that multiplies the adapter's delta.
    """

    name: str
    int_id: int
    path: str
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.int_id < 1:
            raise ValueError(f"LoRARequest.int_id must be >= 1, got {self.int_id}")
        if not 0.0 <= self.scale <= 2.0:
            raise ValueError(f"LoRA scale (strength) must be in [0, 2], got {self.scale}")
