"""Build the server's parts from settings: the engine, the catalog (styles synced into the database), metrics."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from app.catalog import Catalog, CatalogEntry, StyleUsage, base_entry
from app.catalog_store import CatalogStore
from app.deps import AppState
from app.metrics import ServerMetrics
from app.settings import Settings
from app.usage import UsageRecorder
from db.models import Style
from engine.async_engine import AsyncLLMEngine

log = logging.getLogger(__name__)


def build_engine(settings: Settings) -> Any:
    """An ``LLMEngine`` configured from the serve flags (unset flags keep the engine's defaults)."""
    from engine.config import EngineConfig
    from engine.llm_engine import LLMEngine

    optional = {"max_model_len": settings.max_model_len, "num_threads": settings.threads,
                "max_cpu_loras": settings.max_cpu_loras,
                "max_num_batched_tokens": settings.max_num_batched_tokens}
    if settings.kv_cache_memory_gb is not None:
        optional["kv_cache_memory"] = int(settings.kv_cache_memory_gb * 1024**3)
    if settings.lora_cache_memory_gb is not None:
        optional["lora_cache_memory"] = int(settings.lora_cache_memory_gb * 1024**3)
    config = EngineConfig(model=settings.model, dtype=settings.dtype, device=settings.device,
                          max_num_seqs=settings.max_num_seqs,
                          enable_prefix_caching=settings.enable_prefix_caching,
                          enable_lora=settings.enable_lora, max_loras=settings.max_loras,
                          max_lora_rank=settings.max_lora_rank,
                          **{k: v for k, v in optional.items() if v is not None})
    return LLMEngine(config)


def load_manifests(settings: Settings) -> list[Any]:
    """The valid styles found in ``settings.styles_dir`` (none when the styles package is not available)."""
    try:
        registry = importlib.import_module("styles.registry")
    except ImportError:
        log.warning("styles.registry not available: serving no styles")
        return []
    return list(registry.load_styles(settings.styles_dir).styles.values())


def style_entry(row: Style, *, base_root: str, with_adapter: bool) -> CatalogEntry:
    """A style row as a catalog entry (on the plain base when LoRA is off or it has no adapter)."""
    has_adapter = with_adapter and row.adapter_path is not None
    return CatalogEntry(name=row.id, kind="style", root=row.adapter_path if has_adapter else base_root,
                        has_adapter=has_adapter, display_name=row.display_name, description=row.description,
                        system_prompt=row.system_prompt or None, examples=tuple(row.examples or ()),
                        defaults=dict(row.defaults or {}))


def build_catalog(settings: Settings, store: CatalogStore, base_root: str) -> Catalog:
    """Sync the manifests into the database, then serve the base and every enabled style row."""
    report = store.sync_manifests(load_manifests(settings))
    log.info("styles synced: %d added, %d updated, %d disabled, %d skipped (API styles of the same name)",
             len(report.added), len(report.updated), len(report.disabled), len(report.skipped))
    catalog = Catalog(base_entry(settings.base_model_name, base_root))
    for row in store.styles():
        if row.id == catalog.base.name:
            log.warning("style %s not served: the base model has that name", row.id)
            continue
        catalog.add(style_entry(row, base_root=base_root, with_adapter=settings.enable_lora))
        catalog.set_usage(row.id, StyleUsage(row.generations, row.prompt_tokens, row.completion_tokens,
                                             row.last_used_at))
    return catalog


def build_state(settings: Settings, engine: Any, catalog: Catalog, store: CatalogStore,
                usage: UsageRecorder) -> AppState:
    """Wrap ``engine`` for asyncio; every request that runs to its end counts in ``usage``."""
    async_engine = AsyncLLMEngine(engine, max_pending=engine.config.max_num_seqs + settings.max_waiting,
                                  retry_after_s=settings.retry_after_s)
    return AppState(settings=settings, engine=async_engine, catalog=catalog, store=store, usage=usage,
                    metrics=ServerMetrics(async_engine.stats, on_finished=usage.record))
