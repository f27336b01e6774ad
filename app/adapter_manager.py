"""Serve adapters: path confinement, the catalog, the engine (between steps), persistence, restore at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from app.adapter_paths import resolve_under_roots
from app.catalog import CatalogEntry
from app.deps import AppState

log = logging.getLogger(__name__)


def adapter_folder(state: AppState, path: str, *, confine: bool = True) -> Path:
    """``path`` resolved; with ``confine`` it must lie under an adapter root (``ValueError`` saying why)."""
    if not state.settings.enable_lora:
        raise ValueError("LoRA is disabled on this server (started with --no-enable-lora)")
    if confine:
        return resolve_under_roots(path, state.settings.all_adapter_roots())
    return Path(path).expanduser().resolve()


async def serve_entry(state: AppState, entry: CatalogEntry, *, replace: bool = False) -> CatalogEntry:
    """Put ``entry`` in the catalog and its adapter in the engine; undone if the engine refuses it.

    ``replace`` swaps an entry of the same name (a style edited through the API) instead of adding.
    """
    previous = state.catalog.get(entry.name) if replace else None
    if previous is None:
        state.catalog.add(entry)
    else:
        state.catalog.put(entry)
    try:
        if entry.has_adapter:
            await state.engine.add_lora(entry.lora_request())
        elif previous is not None and previous.has_adapter:
            await state.engine.remove_lora(previous.name)
    except BaseException:
        _undo(state, entry, previous)
        raise
    return entry


def _undo(state: AppState, entry: CatalogEntry, previous: CatalogEntry | None) -> None:
    if previous is None:
        state.catalog.drop(entry.name)
    else:
        state.catalog.put(previous)


async def withdraw_entry(state: AppState, entry: CatalogEntry) -> None:
    """Take an entry already removed from the catalog out of the engine too."""
    if entry.has_adapter:
        await state.engine.remove_lora(entry.name)


async def load_adapter(state: AppState, name: str, path: str, *, confine: bool = True,
                       persist: bool = True) -> CatalogEntry:
    """Serve the PEFT adapter at ``path`` as model ``name``.

    ``ValueError`` (the engine's ``AdapterError`` included) says what is wrong with the request.
    ``confine`` limits ``path`` to the adapter roots; operator-given ``--lora-modules`` skip it.
    """
    folder = adapter_folder(state, path, confine=confine)
    entry = await serve_entry(state, CatalogEntry(name=name, kind="adapter", root=str(folder), has_adapter=True,
                                                  display_name=name))
    if persist:
        await asyncio.to_thread(state.store.register_adapter, name=name, path=str(folder),
                                base_model_name=state.catalog.base.name)
    state.metrics.runtime_adapter_loads.labels("load").inc()
    log.info("adapter %s loaded from %s", name, folder)
    return entry


async def unload_adapter(state: AppState, name: str) -> CatalogEntry:
    """Stop serving runtime adapter ``name`` (``UnknownModel`` if absent, ``ValueError`` for a style)."""
    entry = state.catalog.remove(name, "adapter")
    await withdraw_entry(state, entry)
    await asyncio.to_thread(state.store.unregister_adapter, name=name)
    state.metrics.runtime_adapter_loads.labels("unload").inc()
    log.info("adapter %s unloaded", name)
    return entry


async def restore_adapters(state: AppState) -> None:
    """Register the styles' adapters, ``--lora-modules`` and the adapters registered in earlier runs.

    A bad adapter is logged and skipped (a style whose adapter cannot load is not served).
    """
    for entry in state.catalog.all():
        if entry.kind == "style" and entry.has_adapter:
            try:
                await state.engine.add_lora(entry.lora_request())
            except ValueError as exc:
                log.warning("style %s not served: its adapter does not load: %s", entry.name, exc)
                state.catalog.drop(entry.name)
    for module in state.settings.lora_modules:
        await _restore(state, module["name"], module["path"], confine=False)
    for record in await asyncio.to_thread(state.store.adapters):
        await _restore(state, record.name, record.path, confine=True)


async def _restore(state: AppState, name: str, path: str, *, confine: bool) -> None:
    try:
        await load_adapter(state, name, path, confine=confine, persist=False)
    except ValueError as exc:
        log.warning("adapter %s not restored: %s", name, exc)
