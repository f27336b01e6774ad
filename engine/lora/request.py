"""Naming an adapter for a request, as vLLM's ``LoRARequest`` does (without its unused integer id)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LORA_SCALE = 2.0


@dataclass(frozen=True)
class LoRARequest:
    """Use adapter ``name`` (a PEFT folder at ``path``).

    ``lora_scale`` is the per-request strength in [0, 2] that multiplies the adapter's delta (the API's
    ``lora_scale`` field, alias ``strength``): 0 is the plain base model, 1 the adapter as trained.
    """

    name: str
    path: str
    lora_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.lora_scale <= MAX_LORA_SCALE:
            raise ValueError(f"lora_scale must be in [0, {MAX_LORA_SCALE:g}], got {self.lora_scale}")
