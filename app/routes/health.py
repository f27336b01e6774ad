"""Liveness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import AppState, get_state
from app.errors import APIError, error_responses

router = APIRouter(responses=error_responses(503))


@router.get("/health")
async def health(state: AppState = Depends(get_state)) -> dict[str, Any]:
    """200 with the engine's counters while the step loop runs, 503 otherwise."""
    if not state.engine.is_running:
        raise APIError(503, "the engine loop is not running", code="engine_down")
    return {"status": "ok", "model": state.catalog.base.name, "engine": state.engine.stats()}


@router.get("/metrics", responses={200: {"description": "Prometheus text", "content": {"text/plain": {}}}})
async def metrics(state: AppState = Depends(get_state)) -> Response:
    """Prometheus text exposition (the adapter pool's figures are computed now, between two steps)."""
    return Response(state.metrics.render(await state.engine.lora_stats()), media_type=CONTENT_TYPE_LATEST)
