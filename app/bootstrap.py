"""Build the server's parts from settings: the engine, the model catalog, metrics, adapter store."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from app.adapter_store import AdapterStore
from app.catalog import ModelCatalog
from app.database import Database
from app.deps import AppState
from app.metrics import ServerMetrics
from app.settings import Settings
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
    config = EngineConfig(model=settings.model, dtype=settings.dtype, device=settings.device,
                          max_num_seqs=settings.max_num_seqs,
                          enable_prefix_caching=settings.enable_prefix_caching,
                          enable_lora=settings.enable_lora, max_loras=settings.max_loras,
                          max_lora_rank=settings.max_lora_rank,
                          **{k: v for k, v in optional.items() if v is not None})
    return LLMEngine(config)


def load_styles(settings: Settings) -> list[Any]:
    """The styles found in ``settings.styles_dir`` (none when the styles package is not available)."""
    try:
        registry = importlib.import_module("styles.registry")
    except ImportError:
        log.warning("styles.registry not available: serving no styles")
        return []
    return list(registry.load_styles(settings.styles_dir).styles.values())


def build_state(settings: Settings, engine: Any, database: Database) -> AppState:
    """Wrap ``engine`` for asyncio and index the base and styles by name (adapters come later)."""
    async_engine = AsyncLLMEngine(engine, max_pending=engine.config.max_num_seqs + settings.max_waiting,
                                  retry_after_s=settings.retry_after_s)
    catalog = ModelCatalog(settings.base_model_name, str(engine.config.model))
    for style in load_styles(settings):
        catalog.add_style(style, with_adapter=settings.enable_lora)
    return AppState(settings=settings, engine=async_engine, catalog=catalog,
                    metrics=ServerMetrics(async_engine.stats), adapters=AdapterStore(database.sessions))
