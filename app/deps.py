"""FastAPI dependencies: the app's shared state and the API/admin key guards."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from app.catalog import Catalog
from app.catalog_store import CatalogStore
from app.errors import APIError
from app.metrics import ServerMetrics
from app.settings import Settings
from app.usage import UsageRecorder
from engine.async_engine import AsyncLLMEngine


@dataclass
class AppState:
    """Everything a route needs, built once in the lifespan and kept on ``app.state.inkwell``."""

    settings: Settings
    engine: AsyncLLMEngine
    catalog: Catalog
    metrics: ServerMetrics
    store: CatalogStore
    usage: UsageRecorder


def get_state(request: Request) -> AppState:
    """The app's state (503 while the server is still starting)."""
    state = getattr(request.app.state, "inkwell", None)
    if state is None:
        raise APIError(503, "the server is still starting", code="starting", headers={"Retry-After": "5"})
    return state


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.headers.get("x-api-key")


def _matches(presented: str | None, expected: str | None) -> bool:
    if presented is None or expected is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def require_api_key(request: Request) -> None:
    """Guard for /v1: when an API key is configured, the request must carry it (or the admin key)."""
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        return
    presented = _presented_key(request)
    if not (_matches(presented, settings.api_key) or _matches(presented, settings.admin_key)):
        raise APIError(401, "Missing or incorrect API key: send 'Authorization: Bearer <key>'",
                       code="invalid_api_key")


def require_admin_key(request: Request) -> None:
    """Guard for adapter and style management: the admin key is required (and must be configured)."""
    settings: Settings = request.app.state.settings
    if settings.admin_key is None:
        raise APIError(403, "adapter and style management is disabled: start the server with --admin-key "
                            "or INKWELL_ADMIN_KEY", code="admin_disabled")
    presented = request.headers.get("x-admin-key") or _presented_key(request)
    if not _matches(presented, settings.admin_key):
        raise APIError(401, "Missing or incorrect admin key: send 'Authorization: Bearer <admin key>'",
                       code="invalid_admin_key")
