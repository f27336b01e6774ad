"""Streamed (server-sent events) and whole responses; a client that goes away aborts its request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sse_starlette.sse import EventSourceResponse

from app.errors import APIError
from app.submit import Generation
from engine.async_engine import EngineError

DONE = "[DONE]"
DISCONNECT_POLL_S = 0.25  # how often a non-streamed request checks that its client is still there


def _data(payload: dict[str, Any]) -> dict[str, str]:
    return {"data": json.dumps(payload, ensure_ascii=False)}


def _error(message: str) -> dict[str, str]:
    return _data(APIError(500, message).body())


async def _events(generation: Generation, include_usage: bool) -> AsyncIterator[dict[str, str]]:
    builder = generation.builder
    try:
        if builder.chat:
            yield _data(builder.role_chunk(generation.n))
        async for output in generation.stream:
            generation.timer.observe(output)
            if output.error:
                yield _error(f"generation failed: {output.error}")
                break
            chunk = builder.delta_chunk(output)
            if chunk is not None:
                yield _data(chunk)
            if output.finished and include_usage:
                yield _data(builder.usage_chunk(output))
        yield {"data": DONE}
    except EngineError as exc:
        yield _error(str(exc))
        yield {"data": DONE}
    finally:  # normal end, error, or the client disconnected (cancellation): free the engine's slot
        generation.close()


def sse_response(generation: Generation, include_usage: bool) -> EventSourceResponse:
    """Stream a generation as OpenAI chunks, ending with ``data: [DONE]``."""
    return EventSourceResponse(_events(generation, include_usage), sep="\n")


async def full_response(generation: Generation, request: Request) -> dict[str, Any]:
    """Run a generation to the end and return the non-streamed body (500 on an engine failure).

    A client that hangs up before the end aborts the request, as a streaming one does.
    """
    task = asyncio.ensure_future(generation.final())
    try:
        while not (await asyncio.wait({task}, timeout=DISCONNECT_POLL_S))[0]:
            if await request.is_disconnected():
                task.cancel()
                raise APIError(499, "the client closed the connection", code="client_closed")
        output = task.result()
    except EngineError as exc:
        raise APIError(500, str(exc)) from None
    finally:
        generation.close()
    if output.error:
        raise APIError(500, f"generation failed: {output.error}")
    return generation.builder.full(output)
