"""Naming the adapters of a request: one ``LoRARequest`` (as vLLM's, without its unused integer id) or a
``LoRABlend`` of up to ``MAX_BLEND`` of them with a weight each (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LORA_SCALE = 2.0
MAX_BLEND = 3  # adapters one request may blend


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

    @property
    def components(self) -> tuple[LoRARequest, ...]:
        """The adapters the request runs with: this one."""
        return (self,)


@dataclass(frozen=True)
class LoRABlend:
    """A style blend: every token's delta is the sum of each component's delta at its ``lora_scale``.

    ``LoRABlend([LoRARequest("poetry", p1, lora_scale=0.7), LoRARequest("legal", p2, lora_scale=0.3)])``
    gives ``y = W x + 0.7 * s_poetry * B_p A_p x + 0.3 * s_legal * B_l A_l x`` in every projection
    (``s`` = each adapter's own ``lora_alpha / r``). 2 to ``MAX_BLEND`` distinct adapters, weights in
    (0, 2]. Its adapters are pinned all together while it runs; it waits while the slots cannot hold them.
    """

    components: tuple[LoRARequest, ...]

    def __init__(self, components: tuple[LoRARequest, ...] | list[LoRARequest]) -> None:
        object.__setattr__(self, "components", tuple(components))
        self._check()

    def _check(self) -> None:
        parts = self.components
        if not all(isinstance(part, LoRARequest) for part in parts):
            raise ValueError("a LoRABlend holds LoRARequest components only")
        if not 2 <= len(parts) <= MAX_BLEND:
            raise ValueError(f"a blend needs 2 to {MAX_BLEND} adapters, got {len(parts)}")
        names = [part.name for part in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"a blend names each adapter once, got {names}")
        bad = [part.name for part in parts if part.lora_scale <= 0]  # LoRARequest refused NaN and > 2
        if bad:
            raise ValueError(f"blend weights must be in (0, {MAX_LORA_SCALE:g}]; adapters {bad} have weight 0")

    @property
    def name(self) -> str:
        """A label for metrics and logs: the component names joined by ``+``."""
        return "+".join(part.name for part in self.components)


AdapterRequest = LoRARequest | LoRABlend  # what a request may carry (``.components``, ``.name``)
