"""Load and unload runtime adapters: path confinement, catalog, engine (between steps), persistence."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from app.adapter_paths import resolve_under_roots
from app.catalog import ServedModel
from app.deps import AppState

log = logging.getLogger(__name__)


async def load_adapter(state: AppState, name: str, path: str, *, confine: bool = True,
                       persist: bool = True) -> ServedModel:
    """Serve the PEFT adapter at ``path`` as model ``name``.

    ``ValueError`` (the engine's ``AdapterError`` included) says what is wrong with the request.
    ``confine`` limits ``path`` to the adapter roots; operator-given ``--lora-modules`` skip it.
    """
    if not state.settings.enable_lora:
        raise ValueError("LoRA is disabled on this server (started with --no-enable-lora)")
    roots = state.settings.all_adapter_roots()
    folder = resolve_under_roots(path, roots) if confine else Path(path).expanduser().resolve()
    model = state.catalog.add_adapter(name, folder)
    try:
        await state.engine.call(state.engine.engine.add_lora, model.lora_request())
    except BaseException:
        state.catalog.remove_adapter(name)
        raise
    if persist:
        await asyncio.to_thread(state.adapters.register, name=name, path=str(folder),
                                base_model_name=state.catalog.base.name)
    state.metrics.runtime_adapter_loads.labels("load").inc()
    log.info("adapter %s loaded from %s", name, folder)
    return model


async def unload_adapter(state: AppState, name: str) -> ServedModel:
    """Stop serving runtime adapter ``name`` (``UnknownModel`` if absent, ``ValueError`` for a style)."""
    model = state.catalog.remove_adapter(name)
    await state.engine.call(state.engine.engine.remove_lora, name)
    await asyncio.to_thread(state.adapters.unregister, name=name)
    state.metrics.runtime_adapter_loads.labels("unload").inc()
    log.info("adapter %s unloaded", name)
    return model


async def restore_adapters(state: AppState) -> None:
    """Register the styles' adapters, ``--lora-modules`` and the adapters registered in earlier runs.

    A bad adapter is logged and skipped (a style whose adapter cannot load is not served).
    """
    for model in state.catalog.all():
        if model.kind == "style" and model.lora_id is not None:
            try:
                await state.engine.call(state.engine.engine.add_lora, model.lora_request())
            except ValueError as exc:
                log.warning("style %s not served: its adapter does not load: %s", model.name, exc)
                state.catalog.drop(model.name)
    for module in state.settings.lora_modules:
        await _restore(state, module["name"], module["path"], confine=False, persist=False)
    records = await asyncio.to_thread(state.adapters.list)
    for record in records:
        await _restore(state, record.name, record.path, confine=True, persist=False)


async def _restore(state: AppState, name: str, path: str, *, confine: bool, persist: bool) -> None:
    try:
        await load_adapter(state, name, path, confine=confine, persist=persist)
    except ValueError as exc:
        log.warning("adapter %s not restored: %s", name, exc)
