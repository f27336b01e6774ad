"""Framing headers: who may put Inkwell in an iframe.

The embed page (``/?embed=1...``) gets ``Content-Security-Policy: frame-ancestors 'self' <embed origins>``;
every other response gets ``frame-ancestors 'self'``, so the embed origins can frame the embed writer
only, never the sign-in form or the full app. Responses whose policy names no other origin also get
``X-Frame-Options: SAMEORIGIN`` for old browsers (that header can't list origins and would block them).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` of an embed origin; ValueError naming it when it isn't one."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise ValueError(f"embed origin {origin!r} must look like https://example.com or http://host:port")
    return f"{parts.scheme}://{parts.netloc}"


def framing_headers(origins: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """The raw headers for the allowed embed origins."""
    allowed = [normalize_origin(o) for o in origins if o.strip()]
    policy = " ".join(["frame-ancestors", "'self'", *allowed])
    headers = [(b"content-security-policy", policy.encode("latin-1"))]
    if not allowed:
        headers.append((b"x-frame-options", b"SAMEORIGIN"))
    return headers


def is_embed(scope: Scope) -> bool:
    """True for a request of the embed page (``?embed=1``)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("embed", [""])[0] == "1"


class FramingHeadersMiddleware:
    """Pure ASGI middleware (streams and disconnects pass through untouched) adding framing headers."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = ()) -> None:
        self.app = app
        self.embed_headers = framing_headers(origins)
        self.headers = framing_headers([])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.embed_headers if is_embed(scope) else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-frame-options"]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
