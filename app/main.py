"""The FastAPI application: routers, error handlers, and a lifespan that runs the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.adapter_manager import restore_adapters
from app.body_limit import ContentLengthLimit
from app.bootstrap import build_engine, build_state
from app.database import Database
from app.errors import install_error_handlers
from app.routes import adapters, health, openai
from app.routes.fallback import install_fallback_routes
from app.settings import Settings


def create_app(settings: Settings, engine: Any = None) -> FastAPI:
    """Build the app; ``engine`` (an ``LLMEngine``) is created from ``settings`` at start when omitted.

    One ``Database`` serves the API and the UI; it is prepared (migrated, cleaned up) at each start.
    """
    database = Database.open(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        llm = engine if engine is not None else await asyncio.to_thread(build_engine, settings)
        await asyncio.to_thread(database.prepare, guest_retention_days=settings.guest_retention_days)
        state = build_state(settings, llm, database)
        state.engine.start()
        app.state.inkwell = state
        await restore_adapters(state)
        try:
            yield
        finally:
            app.state.inkwell = None
            await asyncio.to_thread(state.engine.shutdown)
            database.close()

    app = FastAPI(title="Inkwell", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(ContentLengthLimit, max_bytes=settings.max_request_bytes)
    routers = [openai.router, adapters.router, health.router]
    for router in routers:  # bodies over the limit: 413 unread
        app.include_router(router, max_body_size=settings.max_request_bytes)
    install_fallback_routes(app, routers)
    if settings.enable_ui:
        _mount_ui(app, settings, database)
    return app


def _mount_ui(app: FastAPI, settings: Settings, database: Database) -> None:
    """The writer's app at ``/`` on the same database (imported here: Gradio is slow to import)."""
    from app.ui import build_services, mount
    from app.ui.db_store import DbStore

    mount(app, settings, build_services(settings, DbStore(database.sessions)))
