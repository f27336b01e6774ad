"""The models the API serves by name: the base, every style, and adapters loaded at runtime."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.lora.request import LoRARequest


class UnknownModel(KeyError):
    """No served model has this name."""


class NameTaken(ValueError):
    """A model with this name is already served."""


@dataclass(frozen=True)
class ServedModel:
    """One name a client may put in ``model``: the base (no adapter), a style, or a runtime adapter."""

    name: str
    kind: str  # "base" | "style" | "adapter"
    root: str  # the model or adapter folder
    lora_id: int | None = None
    system_prompt: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    created: int = field(default_factory=lambda: int(time.time()))

    def lora_request(self, scale: float = 1.0) -> LoRARequest | None:
        """The adapter request for this model at ``scale`` (None for the base or an adapter-less style)."""
        if self.lora_id is None:
            return None
        return LoRARequest(name=self.name, int_id=self.lora_id, path=self.root, scale=scale)


class ModelCatalog:
    """Thread-safe name -> ``ServedModel`` map; adapter ids are handed out once and never reused."""

    def __init__(self, base_name: str, base_root: str) -> None:
        self.base = ServedModel(name=base_name, kind="base", root=base_root)
        self._models: dict[str, ServedModel] = {base_name: self.base}
        self._next_id = 1
        self._lock = threading.Lock()

    def add_style(self, style: Any, *, with_adapter: bool) -> ServedModel:
        """Serve a ``styles.registry.Style`` under its id."""
        has_adapter = with_adapter and style.adapter_path is not None
        root = str(style.adapter_path) if has_adapter else self.base.root
        model = self._build(style.id, "style", root, has_adapter,
                            system_prompt=style.system_prompt or None, defaults=dict(style.defaults or {}))
        return self._insert(model)

    def add_adapter(self, name: str, path: Path) -> ServedModel:
        """Serve a runtime adapter; ``NameTaken`` if the name is taken."""
        return self._insert(self._build(name, "adapter", str(path), True))

    def remove_adapter(self, name: str) -> ServedModel:
        """Stop serving a runtime adapter; ``ValueError`` for the base or a style, ``UnknownModel`` if absent."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise UnknownModel(name)
            if model.kind != "adapter":
                raise ValueError(f"lora_name {name!r} is a {model.kind}, not a runtime adapter; it cannot be unloaded")
            return self._models.pop(name)

    def drop(self, name: str) -> None:
        """Stop serving ``name``, whatever its kind (used when a style's adapter fails to load)."""
        with self._lock:
            self._models.pop(name, None)

    def get(self, name: str) -> ServedModel:
        """The model called ``name``; ``UnknownModel`` if none."""
        with self._lock:
            model = self._models.get(name)
        if model is None:
            raise UnknownModel(name)
        return model

    def all(self) -> list[ServedModel]:
        """Every served model, base first."""
        with self._lock:
            return list(self._models.values())

    def names(self) -> list[str]:
        """Every served name, base first."""
        return [model.name for model in self.all()]

    def _build(self, name: str, kind: str, root: str, has_adapter: bool, **extra: Any) -> ServedModel:
        lora_id = None
        if has_adapter:
            with self._lock:
                lora_id, self._next_id = self._next_id, self._next_id + 1
        return ServedModel(name=name, kind=kind, root=root, lora_id=lora_id, **extra)

    def _insert(self, model: ServedModel) -> ServedModel:
        with self._lock:
            if model.name in self._models:
                raise NameTaken(f"a model named {model.name!r} is already served")
            self._models[model.name] = model
        return model
