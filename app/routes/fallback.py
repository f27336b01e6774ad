"""OpenAI error JSON for requests no API route takes: 405 for a known path, 404 under ``/v1``.

Installed after every API route and before the UI's catch-all mount at ``/``, so a wrong method or
an unknown ``/v1`` path never reaches the UI (which would answer ``{"detail": "Not Found"}``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute

from app.errors import APIError

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _not_allowed(allowed: set[str]) -> Callable[[Request], Awaitable[NoReturn]]:
    async def method_not_allowed(request: Request) -> NoReturn:
        names = ", ".join(sorted(allowed))
        raise APIError(405, f"{request.method} is not allowed on {request.url.path}; use {names}",
                       code="method_not_allowed", headers={"Allow": names})

    return method_not_allowed


async def unknown_route(request: Request) -> NoReturn:
    """Any method on an unknown ``/v1`` path."""
    raise APIError(404, f"there is no route {request.method} {request.url.path}; see /docs for the API",
                   code="not_found")


def install_fallback_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """Add the 405 routes of every path of ``routers`` and the ``/v1`` 404 catch-all (after including them)."""
    allowed: dict[str, set[str]] = {}
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute):
            allowed.setdefault(route.path, set()).update(route.methods)
    for path, methods in allowed.items():
        others = [m for m in METHODS if m not in methods]
        app.add_api_route(path, _not_allowed(methods), methods=others, include_in_schema=False, response_model=None)
    app.add_api_route("/v1/{path:path}", unknown_route, methods=METHODS, include_in_schema=False,
                      response_model=None)
