"""The styles API: list the catalog's styles (API key); create, edit and delete styles (admin key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.catalog import CatalogEntry, NameTaken, Order, UnknownModel
from app.deps import AppState, get_state, require_admin_key, require_api_key
from app.errors import APIError, bad_request, error_responses
from app.schemas import CreateStyleRequest, UpdateStyleRequest
from app.style_admin import create_style, delete_style, update_style

router = APIRouter(prefix="/v1/styles", responses=error_responses(400, 401, 403, 404, 413, 503))
_ADMIN = [Depends(require_admin_key)]


def style_json(entry: CatalogEntry, state: AppState) -> dict[str, Any]:
    """One style as the API shows it (no server paths)."""
    usage = state.catalog.usage(entry.name)
    return {"id": entry.name, "object": "style", "display_name": entry.title, "description": entry.description,
            "system_prompt": entry.system_prompt or "", "examples": list(entry.examples),
            "defaults": dict(entry.defaults), "has_adapter": entry.has_adapter,
            "usage": {"generations": usage.generations, "prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "last_used_at": usage.last_used_at.isoformat() if usage.last_used_at else None}}


def _not_found(name: str) -> APIError:
    return APIError(404, f"no style named {name!r}", param="name", code="model_not_found")


@router.get("", dependencies=[Depends(require_api_key)])
async def list_styles(order: Order = "name", state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Every served style, by display name or most used first (``?order=usage``)."""
    return {"object": "list", "data": [style_json(e, state) for e in state.catalog.styles(order)]}


@router.post("", dependencies=_ADMIN)
async def create(body: CreateStyleRequest, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Create a style (its adapter must lie under an adapter root); it is served at once and after restarts."""
    try:
        return style_json(await create_style(state, body), state)
    except NameTaken as exc:
        raise bad_request(str(exc), "name") from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None


@router.patch("/{name}", dependencies=_ADMIN)
async def update(name: str, body: UpdateStyleRequest, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Change the fields given of a style (a manifest style keeps the edit until its manifest changes)."""
    try:
        return style_json(await update_style(state, name, body), state)
    except UnknownModel:
        raise _not_found(name) from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None


@router.delete("/{name}", dependencies=_ADMIN)
async def delete(name: str, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Stop serving a style made through the API (its row stays, disabled)."""
    try:
        entry = await delete_style(state, name)
    except UnknownModel:
        raise _not_found(name) from None
    except ValueError as exc:
        raise bad_request(str(exc), "name") from None
    return {"id": entry.name, "object": "style", "deleted": True}
