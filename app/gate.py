"""A closed server: with ``--api-key``, the API's docs need the key, and (without ``--allow-guests``) so does
every UI route, unless a writer is signed in.

``ClosedGate`` wraps the whole server. The API (``/v1``, with its own key guards), ``/health``,
``/metrics``, share pages (the token is the permission) and the sign-in routes (``/ui/...``) pass.
``/docs``, ``/redoc``, ``/openapi.json`` and Gradio's ``/monitoring`` need ``Authorization: Bearer <api
key>``. With ``close_ui``, everything else too (the Gradio page, ``/config``, ``/gradio_api/*``: queue,
upload) needs the key or a valid signed session cookie. A browser asking for a page without either is
sent to the sign-in page; anything else gets 401 in OpenAI error JSON. The gate checks the cookie's
signature and age; the UI's callbacks also check that its account still exists.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

LOGIN_PATH = "/ui/login"
OPEN_PREFIXES = ("/v1/", "/share/", "/ui/")
OPEN_PATHS = frozenset({"/v1", "/health", "/metrics"})
KEY_ONLY_PREFIXES = ("/docs", "/redoc", "/openapi.json", "/monitoring")
REFUSED = {"error": {"message": "This Inkwell is private: sign in at /ui/login, or send 'Authorization: Bearer "
                                "<api key>'.", "type": "invalid_request_error", "param": None,
                     "code": "invalid_api_key"}}


class Verifier(Protocol):
    """What the gate needs of the session signer (``app.ui.session_cookie.SessionSigner``)."""

    def verify(self, token: str | None) -> tuple[int, str] | None:
        """(user id, username) of a good token, else None."""


def is_open(path: str) -> bool:
    """True for the routes the gate never closes."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def presented_key(headers: dict[str, str]) -> str | None:
    """The bearer (or ``x-api-key``) key a request carries."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key")


def session_cookie(headers: dict[str, str], name: str) -> str | None:
    """The value of the cookie ``name``, if the request has one."""
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel else None


class ClosedGate:
    """Pure ASGI middleware (streams pass untouched) that closes the docs to anyone without the key and,
    with ``close_ui`` (and a ``signer``), the UI to anyone without the key or a signed-in session."""

    def __init__(self, app: ASGIApp, api_key: str, signer: Verifier | None = None, cookie: str = "",
                 close_ui: bool = True) -> None:
        self.app = app
        self.api_key = api_key.encode()
        self.signer, self.cookie = signer, cookie
        self.close_ui = close_ui and signer is not None

    def allowed(self, scope: Scope) -> bool:
        """True when the request may reach the route it asks for."""
        path = scope.get("path", "")
        key_only = path.startswith(KEY_ONLY_PREFIXES)
        if is_open(path) or not (key_only or self.close_ui):
            return True
        headers = _headers(scope)
        key = presented_key(headers)
        if key is not None and hmac.compare_digest(key.encode(), self.api_key):
            return True
        return not key_only and self.signer.verify(session_cookie(headers, self.cookie)) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope.get("method") == "GET" and "text/html" in _headers(scope).get("accept", ""):
            await _send(send, 303, b"", [(b"location", LOGIN_PATH.encode())])
            return
        await _send(send, 401, json.dumps(REFUSED).encode(), [(b"content-type", b"application/json"),
                                                               (b"www-authenticate", b"Bearer")])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
