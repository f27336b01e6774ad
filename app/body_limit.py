"""413 in OpenAI's JSON for an API request whose ``Content-Length`` is over the limit, before it is read.

A body sent without ``Content-Length`` (chunked) is counted as it arrives by the routes' own limit
(``include_router(max_body_size=...)``), which ends in the same error.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import too_large


class ContentLengthLimit:
    """ASGI middleware: refuse ``/v1`` requests that announce more than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix) and self._too_long(scope):
            await too_large(self.max_bytes).response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _too_long(self, scope: Scope) -> bool:
        length = Headers(scope=scope).get("content-length", "")
        return length.isdigit() and int(length) > self.max_bytes
