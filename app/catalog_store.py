"""Where the catalog persists: style rows (manifests synced at start, admin-made styles), their usage,
and runtime adapter registrations, all through ``db.repository``. Blocking: call from a thread."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db import repository
from db.models import Style
from db.repo_styles import SyncReport

ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass(frozen=True)
class AdapterRecord:
    """A runtime adapter to restore at start."""

    name: str
    path: str


def adapter_sha256(folder: Path | None) -> str | None:
    """The sha256 of a PEFT folder's weights file (None without a folder or weights)."""
    weights = folder / ADAPTER_WEIGHTS if folder is not None else None
    if weights is None or not weights.is_file():
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_fields(style: Any) -> dict[str, Any]:
    """A ``styles.manifest.Style`` as the fields of its database row."""
    return {
        "id": style.id, "display_name": style.display_name, "description": style.description,
        "system_prompt": style.system_prompt, "examples": list(style.examples), "defaults": dict(style.defaults),
        "adapter_path": str(style.adapter_path) if style.adapter_path else None,
        "adapter_sha256": adapter_sha256(style.adapter_path), "rank": style.rank,
        "base_model": style.base_model, "base_model_sha256": style.base_model_sha256 or None,
        "version": style.version,
    }


class CatalogStore:
    """The catalog's rows in the app database (each call opens and closes its own session)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ---- styles ----
    def sync_manifests(self, styles: list[Any]) -> SyncReport:
        """Bring the manifest rows in line with ``styles`` (``styles.manifest.Style`` objects)."""
        with self._sessions() as s:
            return repository.sync_manifest_styles(s, manifests=[manifest_fields(st) for st in styles])

    def styles(self) -> list[Style]:
        """The enabled styles."""
        with self._sessions() as s:
            return repository.list_styles(s)

    def style(self, name: str) -> Style | None:
        """The style row ``name``, enabled or not."""
        with self._sessions() as s:
            return repository.get_style(s, id=name)

    def create_style(self, name: str, fields: dict[str, Any]) -> Style:
        """Add an admin-made style (``ValueError`` if the name is taken or a field is unfit)."""
        with self._sessions() as s:
            return repository.create_style(s, id=name, **fields)

    def update_style(self, name: str, changes: dict[str, Any]) -> Style | None:
        """Edit an enabled style; None if there is none."""
        with self._sessions() as s:
            return repository.update_style(s, id=name, **changes)

    def disable_style(self, name: str) -> bool:
        """Stop offering a style (its row stays)."""
        with self._sessions() as s:
            return repository.disable_style(s, id=name)

    def add_usage(self, name: str, counts: tuple[int, int, int], last_used_at: datetime) -> None:
        """Add (generations, prompt tokens, completion tokens) to ``name``'s usage, if it is a style."""
        with self._sessions() as s:
            repository.add_style_usage(s, id=name, generations=counts[0], prompt_tokens=counts[1],
                                       completion_tokens=counts[2], last_used_at=last_used_at)

    # ---- runtime adapters ----
    def adapters(self) -> list[AdapterRecord]:
        """Registered runtime adapters."""
        with self._sessions() as s:
            return [AdapterRecord(row.name, row.path) for row in repository.list_adapter_registrations(s)]

    def register_adapter(self, *, name: str, path: str, base_model_name: str | None) -> None:
        """Persist a runtime adapter."""
        with self._sessions() as s:  # the repository commits
            repository.register_adapter(s, name=name, path=path, base_model_name=base_model_name)

    def unregister_adapter(self, *, name: str) -> None:
        """Forget a runtime adapter."""
        with self._sessions() as s:
            repository.unregister_adapter(s, name=name)
