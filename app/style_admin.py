"""Styles made and edited through the admin API: the catalog, the engine (between steps) and the
style row change together, and a failure in one undoes the others."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.adapter_manager import adapter_folder, serve_entry, withdraw_entry
from app.catalog import CatalogEntry, UnknownModel
from app.catalog_store import adapter_sha256
from app.deps import AppState
from app.schemas import CreateStyleRequest, UpdateStyleRequest
from db.models import StyleSource
from styles.manifest import check_defaults

log = logging.getLogger(__name__)


def _rank(folder: Path | None) -> int | None:
    """The LoRA rank in a PEFT folder's config, when it says."""
    if folder is None:
        return None
    try:
        rank = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("r")
    except (OSError, ValueError):
        return None
    return rank if isinstance(rank, int) and not isinstance(rank, bool) else None


def _adapter(state: AppState, path: str | None) -> Path | None:
    """The adapter folder, confined to the adapter roots (None for '' or None: the plain base)."""
    return adapter_folder(state, path) if path else None


def _row_fields(entry: CatalogEntry) -> dict[str, Any]:
    """A served entry as the fields of its style row (less the base model and the version)."""
    folder = _current_folder(entry)
    return {"display_name": entry.title, "description": entry.description,
            "system_prompt": entry.system_prompt or "", "examples": list(entry.examples),
            "defaults": dict(entry.defaults), "adapter_path": str(folder) if folder else None,
            "adapter_sha256": adapter_sha256(folder), "rank": _rank(folder)}


def _entry(state: AppState, name: str, fields: dict[str, Any], folder: Path | None) -> CatalogEntry:
    if fields.get("defaults") is not None:
        check_defaults(fields["defaults"])
    return CatalogEntry(name=name, kind="style", root=str(folder) if folder else state.catalog.base.root,
                        has_adapter=folder is not None, display_name=fields.get("display_name") or name,
                        description=fields.get("description") or "", system_prompt=fields.get("system_prompt"),
                        examples=tuple(fields.get("examples") or ()), defaults=dict(fields.get("defaults") or {}))


async def create_style(state: AppState, body: CreateStyleRequest) -> CatalogEntry:
    """Serve a new style and store it; ``NameTaken`` / ``ValueError`` say what is wrong."""
    entry = _entry(state, body.name, body.model_dump(exclude={"name"}), _adapter(state, body.adapter))
    await serve_entry(state, entry)
    try:
        row = {**_row_fields(entry), "base_model": state.catalog.base.name, "version": body.version or "1"}
        await asyncio.to_thread(state.store.create_style, body.name, row)
    except BaseException:
        state.catalog.drop(entry.name)
        await withdraw_entry(state, entry)
        raise
    log.info("style %s created", entry.name)
    return entry


async def update_style(state: AppState, name: str, body: UpdateStyleRequest) -> CatalogEntry:
    """Change the fields given; ``UnknownModel`` if no style has that name."""
    current = _style(state, name)
    changes = body.model_dump(exclude_unset=True)
    folder = _adapter(state, changes.pop("adapter")) if "adapter" in changes else _current_folder(current)
    merged = {"display_name": current.display_name, "description": current.description,
              "system_prompt": current.system_prompt, "examples": current.examples,
              "defaults": current.defaults, **changes}
    entry = _entry(state, name, merged, folder)
    await serve_entry(state, entry, replace=True)
    row_changes = {**_row_fields(entry), **({"version": changes["version"]} if changes.get("version") else {})}
    try:
        await asyncio.to_thread(state.store.update_style, name, row_changes)
    except BaseException:
        await serve_entry(state, current, replace=True)
        raise
    log.info("style %s updated", name)
    return entry


async def delete_style(state: AppState, name: str) -> CatalogEntry:
    """Stop serving an API-made style; its row stays, disabled (old sessions keep the name)."""
    row = await asyncio.to_thread(state.store.style, name)
    if row is not None and row.source is StyleSource.MANIFEST:
        raise ValueError(f"style {name!r} comes from a manifest (style.toml): remove its folder from the "
                         "styles directory, or edit it with PATCH")
    entry = state.catalog.remove(name, "style")
    await withdraw_entry(state, entry)
    await asyncio.to_thread(state.store.disable_style, name)
    log.info("style %s deleted (disabled)", name)
    return entry


def _style(state: AppState, name: str) -> CatalogEntry:
    entry = state.catalog.get(name)
    if entry.kind != "style":
        raise UnknownModel(name)
    return entry


def _current_folder(entry: CatalogEntry) -> Path | None:
    return Path(entry.root) if entry.has_adapter else None
