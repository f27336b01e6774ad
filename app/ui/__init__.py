"""The writer's app: a Gradio UI mounted at ``/`` of the API server, talking to it over SSE.

``mount(app, settings, services)`` adds the UI, the ``/share/{token}`` pages and the framing headers;
``app.main`` builds the services on the app's one database.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
from fastapi import FastAPI

from app.client import client_from_settings
from app.ui.gallery import Gallery
from app.ui.headers import FramingHeadersMiddleware
from app.ui.layout import CSS, build_blocks
from app.ui.services import Services
from app.ui.share_link import enable_share_link
from app.ui.share_page import share_router
from app.ui.store import Store

log = logging.getLogger(__name__)

__all__ = ["build_services", "mount"]


def build_services(settings: Any, store: Store, catalog: Catalog, client: EngineClient | None = None) -> Services:
    """The UI's collaborators: the engine client (from the settings unless given), ``store``, and the
    gallery of ``catalog``'s styles, most used first."""
    return Services(client=client or client_from_settings(settings), store=store, gallery=Gallery(catalog))


def mount(app: FastAPI, settings: Any, services: Services) -> None:
    """Mount the UI at ``/`` (call after every API route is included: the mount catches the rest)."""
    app.include_router(share_router(services.store))
    app.add_middleware(FramingHeadersMiddleware, origins=list(getattr(settings, "embed_origins", []) or []))
    gr.mount_gradio_app(app, build_blocks(services), path="/", css=CSS, footer_links=["api", "gradio"],
                        server_name=settings.host, server_port=settings.port)
    if getattr(settings, "share", False):
        enable_share_link(app, settings.host, settings.port)
    log.info("writer's app mounted at / (engine: %s)", services.client.base_url)
