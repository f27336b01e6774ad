"""The FastAPI application: routers, error handlers, and a lifespan that runs the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.adapter_manager import restore_adapters
from app.body_limit import ContentLengthLimit
from app.bootstrap import build_catalog, build_engine, build_state
from app.catalog import Catalog
from app.catalog_store import CatalogStore
from app.database import Database
from app.errors import install_error_handlers
from app.gate import ClosedGate
from app.lifecycle import Stopping, shut_down_in_background
from app.routes import adapters, health, openai, styles
from app.routes.fallback import install_fallback_routes
from app.settings import Settings
from app.usage import UsageRecorder


def create_app(settings: Settings, engine: Any = None) -> FastAPI:
    """Build the app; ``engine`` (an ``LLMEngine``) is created from ``settings`` at start when omitted.

    One ``Database`` serves the API and the UI. It is prepared (migrated, cleaned up) and the style
    manifests are synced into it here, before the UI is built from the catalog.
    """
    database = Database.open(settings.database_url)
    database.prepare(guest_retention_days=settings.guest_retention_days)
    store = CatalogStore(database.sessions)
    catalog = build_catalog(settings, store, str(engine.config.model) if engine is not None else settings.model)
    usage = UsageRecorder(catalog, store)
    stopping = Stopping()
    app = FastAPI(title="Inkwell", version="0.1.0",
                  lifespan=_lifespan(settings, engine, database, store, usage, stopping))
    app.state.settings, app.state.stopping = settings, stopping
    install_error_handlers(app)
    app.add_middleware(ContentLengthLimit, max_bytes=settings.max_request_bytes)
    routers = [openai.router, adapters.router, styles.router, health.router]
    for router in routers:  # bodies over the limit: 413 unread
        app.include_router(router, max_body_size=settings.max_request_bytes)
    install_fallback_routes(app, routers)
    if settings.enable_ui:
        _mount_ui(app, settings, database, catalog, usage, stopping)
    elif settings.api_key:  # the UI's mount closes the docs itself (and the UI when it must)
        app.add_middleware(ClosedGate, api_key=settings.api_key)
    return app


def _lifespan(settings: Settings, engine: Any, database: Database, store: CatalogStore,
              usage: UsageRecorder, stopping: Stopping) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start: the engine (built now unless given), its adapters, the usage flusher; stop them at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        llm = engine if engine is not None else await asyncio.to_thread(build_engine, settings)
        state = build_state(settings, llm, usage.catalog, store, usage)
        state.engine.start()
        stopping.on_stop(shut_down_in_background(state.engine))
        app.state.inkwell = state
        await restore_adapters(state)
        flusher = asyncio.create_task(usage.run())
        try:
            yield
        finally:
            app.state.inkwell = None
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await asyncio.to_thread(state.engine.shutdown)
            database.close()

    return lifespan


def _mount_ui(app: FastAPI, settings: Settings, database: Database, catalog: Catalog, usage: UsageRecorder,
              stopping: Stopping) -> None:
    """The writer's app at ``/`` on the same database and catalog (imported here: Gradio is slow to import).

    With ``--engine-url`` it lists and streams from the remote engine instead (``app.remote_catalog``)."""
    from app.remote_catalog import remote_ui
    from app.ui import build_services, mount
    from app.ui.db_store import DbStore
    from app.ui.token_count import TokenCounter

    client, counter = None, TokenCounter(app)
    if settings.engine_url:
        (catalog, client), counter = remote_ui(settings, catalog, usage), None
    mount(app, settings, build_services(settings, DbStore(database.sessions), catalog, client, stopping.event,
                                        counter))
