"""Framing headers: who may put Inkwell in an iframe.

Every response gets ``Content-Security-Policy: frame-ancestors 'self' <embed origins>``. With no
embed origins it also gets ``X-Frame-Options: SAMEORIGIN`` for old browsers; with some, it gets no
X-Frame-Options at all (that header can't list origins and would block them).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

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


class FramingHeadersMiddleware:
    """Pure ASGI middleware (streams and disconnects pass through untouched) adding framing headers."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = ()) -> None:
        self.app = app
        self.headers = framing_headers(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-frame-options"]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
