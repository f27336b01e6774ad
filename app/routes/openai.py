"""OpenAI-compatible generation endpoints and the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from app.catalog import CatalogEntry
from app.deps import AppState, get_state, require_api_key
from app.errors import error_responses
from app.submit import resolve_model, start
from app.schemas import ChatCompletionRequest, CompletionRequest
from app.streaming import full_response, sse_response

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)],
                   responses=error_responses(400, 401, 404, 413, 500, 503))


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request,
                           state: AppState = Depends(get_state)) -> dict[str, Any] | EventSourceResponse:
    """Chat completion, streamed as SSE chunks when ``stream`` is true."""
    model = resolve_model(state, body.model)
    generation = await start(state, body, model, chat=True)
    if body.stream:
        return sse_response(generation, body.include_usage())
    return await full_response(generation, request)


@router.post("/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request,
                      state: AppState = Depends(get_state)) -> dict[str, Any] | EventSourceResponse:
    """Text completion of a raw prompt, streamed as SSE chunks when ``stream`` is true."""
    model = resolve_model(state, body.model)
    generation = await start(state, body, model, chat=False)
    if body.stream:
        return sse_response(generation, body.include_usage())
    return await full_response(generation, request)


def model_card(model: CatalogEntry, base: CatalogEntry) -> dict[str, Any]:
    """One entry of ``/v1/models``: adapters and styles name the base as ``parent``.

    ``root`` is the model's own name: the server's folders are never shown.
    """
    return {"id": model.name, "object": "model", "created": model.created, "owned_by": "inkwell",
            "root": model.name, "parent": None if model.kind == "base" else base.name, "kind": model.kind}


@router.get("/models")
async def list_models(state: AppState = Depends(get_state)) -> dict[str, Any]:
    """The base model, every style and every runtime adapter."""
    base = state.catalog.base
    return {"object": "list", "data": [model_card(m, base) for m in state.catalog.all()]}
