"""The writer's app: a Gradio UI mounted at ``/`` of the API server, talking to it over SSE.

``mount(app, settings, services)`` adds the UI, the ``/share/{token}`` pages and the framing headers;
``app.main`` builds the services on the app's one database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr
from fastapi import FastAPI

from app.client import client_from_settings
from app.gate import ClosedGate
from app.ui.gallery import Gallery
from app.ui.headers import FramingHeadersMiddleware
from app.ui.layout import build_blocks
from app.ui.login_page import login_router
from app.ui.page_js import CSS, PAGE_JS
from app.ui.services import Services
from app.ui.session_cookie import COOKIE, SessionSigner, load_secret, secret_path, session_router
from app.ui.share_link import enable_share_link
from app.ui.share_page import share_router
from app.ui.store import Store

log = logging.getLogger(__name__)

MAX_UPLOAD = "1mb"  # the app takes no uploads; Gradio's upload route is bounded all the same

__all__ = ["build_services", "mount"]


def build_services(settings: Any, store: Store, catalog: Catalog, client: EngineClient | None = None,
                   stopping: threading.Event | None = None,
                   count_tokens: Callable[[str], int | None] | None = None) -> Services:
    """The UI's collaborators: the engine client (from the settings unless given), ``store``, the
    gallery of ``catalog``'s styles (most used first), the session signer, the stopping flag and the
    token counter (none: words only)."""
    more = {"count_tokens": count_tokens} if count_tokens is not None else {}
    return Services(client=client or client_from_settings(settings), store=store, gallery=Gallery(catalog),
                    signer=signer_from_settings(settings), stopping=stopping or threading.Event(),
                    guests=bool(getattr(settings, "guests_allowed", True)), **more)


def signer_from_settings(settings: Any) -> SessionSigner:
    """The session-cookie signer: ``settings.session_secret`` or the secret kept beside the database."""
    secret = getattr(settings, "session_secret", None)
    if secret:
        return SessionSigner(secret.encode())
    return SessionSigner(load_secret(secret_path(getattr(settings, "database_url", None))))


def mount(app: FastAPI, settings: Any, services: Services) -> None:
    """Mount the UI at ``/`` (call after every API route is included: the mount catches the rest).

    With an API key the docs need it, and without guests the whole UI is closed to anyone without the
    key or a signed-in session (``app.gate``); ``/ui/login`` is then where writers sign in."""
    app.include_router(share_router(services.store))
    api_key = getattr(settings, "api_key", None)
    if api_key:
        closed = not services.guests
        if closed and services.signer is None:
            raise ValueError("a closed writer's app (api key, no guests) needs a session signer")
        if closed:
            app.include_router(login_router(services.store, services.signer, api_key))
        app.add_middleware(ClosedGate, api_key=api_key, signer=services.signer, cookie=COOKIE, close_ui=closed)
    app.add_middleware(FramingHeadersMiddleware, origins=list(getattr(settings, "embed_origins", []) or []))
    if services.signer is not None:
        app.include_router(session_router(services.signer))
    gr.mount_gradio_app(app, build_blocks(services), path="/", css=CSS, js=PAGE_JS, footer_links=["api", "gradio"],
                        server_name=settings.host, server_port=settings.port, max_file_size=MAX_UPLOAD)
    if getattr(settings, "share", False):
        enable_share_link(app, settings.host, settings.port)
    log.info("writer's app mounted at / (engine: %s)", services.client.base_url)
