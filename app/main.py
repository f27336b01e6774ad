"""The FastAPI application: routers, error handlers, and a lifespan that runs the engine."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.adapter_manager import restore_adapters
from app.bootstrap import build_engine, build_state
from app.errors import install_error_handlers
from app.routes import adapters, health, openai
from app.settings import Settings


def create_app(settings: Settings, engine: Any = None) -> FastAPI:
    """Build the app; ``engine`` (an ``LLMEngine``) is created from ``settings`` at start when omitted."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        llm = engine if engine is not None else await asyncio.to_thread(build_engine, settings)
        state = build_state(settings, llm)
        await asyncio.to_thread(state.adapters.upgrade)
        state.engine.start()
        app.state.inkwell = state
        await restore_adapters(state)
        try:
            yield
        finally:
            app.state.inkwell = None
            await asyncio.to_thread(state.engine.shutdown)

    app = FastAPI(title="Inkwell", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    for router in (openai.router, adapters.router, health.router):
        app.include_router(router)
    if settings.enable_ui and importlib.util.find_spec("app.ui") is not None:
        ui = importlib.import_module("app.ui")
        if hasattr(ui, "mount"):
            ui.mount(app, settings)
    return app
