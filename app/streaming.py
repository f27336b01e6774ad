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


async def _hung_up(request: Request) -> None:
    """Return once the client disconnects (the body is read: the next message can only say so)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def full_response(generation: Generation, request: Request) -> dict[str, Any]:
    """Run a generation to the end and return the non-streamed body (500 on an engine failure).

    A client that hangs up before the end aborts the request at once, as a streaming one does.
    """
    task = asyncio.ensure_future(generation.final())
    hangup = asyncio.ensure_future(_hung_up(request))
    try:
        await asyncio.wait({task, hangup}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            raise APIError(499, "the client closed the connection", code="client_closed")
        output = task.result()
    except EngineError as exc:
        raise APIError(500, str(exc)) from None
    finally:
        hangup.cancel()
        generation.close()
    if output.error:
        raise APIError(500, f"generation failed: {output.error}")
    return generation.builder.full(output)
