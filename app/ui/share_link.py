"""``--share``: a Gradio public share link (an frp tunnel to Gradio's share servers) for the UI."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

log = logging.getLogger(__name__)


def open_tunnel(host: str, port: int) -> str | None:
    """Open the tunnel to ``host:port``; the public URL, or None (logged) when it can't be made."""
    from gradio import networking

    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        return networking.setup_tunnel(local, port, secrets.token_urlsafe(32), None, None)
    except Exception as exc:  # no network, blocked share server: the local app still works
        log.warning("could not open a Gradio share link (%s); the app is still served locally", exc)
        return None


async def _announce(host: str, port: int) -> None:
    url = await asyncio.to_thread(open_tunnel, host, port)
    if url:
        log.info("public share link (expires when the server stops): %s", url)


def enable_share_link(app: FastAPI, host: str, port: int) -> None:
    """Open the share link once the server has started (in the background: start-up never waits)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[object]:
        async with inner(app_) as state:
            task = asyncio.create_task(_announce(host, port))
            try:
                yield state
            finally:
                task.cancel()

    app.router.lifespan_context = lifespan
