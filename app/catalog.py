"""The one catalog: every name a client may put in ``model``, with what writers are shown about it.

``/v1/models``, the OpenAI routes, the admin styles API and the writer's app all read one ``Catalog``.
On a server with its own engine it holds the base, the styles (synced from the manifests into the
database, plus those created through ``/v1/styles``) and the adapters loaded at runtime. With
``--engine-url`` the UI's catalog is what the remote ``/v1/models`` serves, joined with the local
style metadata where names match (``app.remote_catalog``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engine.lora.request import LoRARequest

Kind = Literal["base", "style", "adapter"]
KIND_WORDS = {"base": "base model", "style": "style", "adapter": "runtime adapter"}
Order = Literal["name", "usage"]


class UnknownModel(KeyError):
    """No served model has this name."""


class NameTaken(ValueError):
    """A model with this name is already served."""


@dataclass(frozen=True)
class StyleUsage:
    """How much a style has been used: finished generations, their tokens, and when last."""

    generations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last_used_at: datetime | None = None

    def plus(self, prompt_tokens: int, completion_tokens: int, when: datetime) -> StyleUsage:
        """This usage with one more generation."""
        return StyleUsage(self.generations + 1, self.prompt_tokens + prompt_tokens,
                          self.completion_tokens + completion_tokens, when)


@dataclass(frozen=True)
class CatalogEntry:
    """One servable name: the base (no adapter), a style, or a runtime adapter.

    ``root`` is the model or adapter folder; ``has_adapter`` says whether requests carry a LoRA.
    ``lora_scale_supported`` is False for remote engines that ignore a per-request ``lora_scale``.
    """

    name: str
    kind: Kind
    root: str
    has_adapter: bool = False
    display_name: str = ""
    description: str = ""
    system_prompt: str | None = None
    examples: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    lora_scale_supported: bool = True
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def title(self) -> str:
        """The name writers see."""
        return self.display_name or self.name

    def lora_request(self, lora_scale: float = 1.0) -> LoRARequest | None:
        """The adapter request for this entry at ``lora_scale`` (None without an adapter)."""
        if not self.has_adapter:
            return None
        return LoRARequest(name=self.name, path=self.root, lora_scale=lora_scale)


def with_system_prompt(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    """``messages`` with the style's system prompt first, unless the client sent its own."""
    if not system_prompt or any(m.get("role") in ("system", "developer") for m in messages):
        return list(messages)
    return [{"role": "system", "content": system_prompt}, *messages]


class Catalog:
    """Thread-safe name -> ``CatalogEntry`` map, with each name's usage, base first."""

    def __init__(self, base: CatalogEntry) -> None:
        self.base = base
        self._entries: dict[str, CatalogEntry] = {base.name: base}
        self._usage: dict[str, StyleUsage] = {}
        self._lock = threading.Lock()

    def add(self, entry: CatalogEntry) -> CatalogEntry:
        """Serve ``entry``; ``NameTaken`` if its name is taken."""
        with self._lock:
            if entry.name in self._entries:
                raise NameTaken(f"a model named {entry.name!r} is already served")
            self._entries[entry.name] = entry
        return entry

    def put(self, entry: CatalogEntry) -> None:
        """Serve ``entry``, replacing the one of the same name (a style edited through the API)."""
        with self._lock:
            self._entries[entry.name] = entry

    def remove(self, name: str, kind: Kind) -> CatalogEntry:
        """Stop serving ``name``; ``UnknownModel`` if absent, ``ValueError`` if it is not a ``kind``."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise UnknownModel(name)
            if entry.kind != kind:
                raise ValueError(f"{name!r} is a {entry.kind}, not a {KIND_WORDS[kind]}; it cannot be removed here")
            return self._entries.pop(name)

    def drop(self, name: str) -> None:
        """Stop serving ``name``, whatever its kind (used when an adapter fails to load)."""
        with self._lock:
            self._entries.pop(name, None)

    def get(self, name: str) -> CatalogEntry:
        """The entry called ``name``; ``UnknownModel`` if none."""
        with self._lock:
            entry = self._entries.get(name)
        if entry is None:
            raise UnknownModel(name)
        return entry

    def all(self) -> list[CatalogEntry]:
        """Every served entry, base first."""
        with self._lock:
            return list(self._entries.values())

    def names(self) -> list[str]:
        """Every served name, base first."""
        return [entry.name for entry in self.all()]

    def styles(self, order: Order = "name") -> list[CatalogEntry]:
        """The styles: by display name, or most used first (``"usage"``: generations, then tokens)."""
        styles = sorted((e for e in self.all() if e.kind == "style"), key=lambda e: (e.title.lower(), e.name))
        if order == "usage":
            styles.sort(key=lambda e: self._usage_key(self.usage(e.name)))
        return styles

    def usage(self, name: str) -> StyleUsage:
        """``name``'s usage as known here (loaded at start, plus what this process served)."""
        with self._lock:
            return self._usage.get(name, StyleUsage())

    def set_usage(self, name: str, usage: StyleUsage) -> None:
        """Record ``name``'s usage as loaded from the database."""
        with self._lock:
            self._usage[name] = usage

    def note_usage(self, name: str, prompt_tokens: int, completion_tokens: int, when: datetime) -> None:
        """Count one more finished generation of ``name``."""
        with self._lock:
            self._usage[name] = self._usage.get(name, StyleUsage()).plus(prompt_tokens, completion_tokens, when)

    @staticmethod
    def _usage_key(usage: StyleUsage) -> tuple[int, int]:
        return -usage.generations, -(usage.prompt_tokens + usage.completion_tokens)


def base_entry(name: str, root: str) -> CatalogEntry:
    """The base model's entry (no adapter, no style metadata)."""
    return CatalogEntry(name=name, kind="base", root=root, display_name=name)
