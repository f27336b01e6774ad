"""One generation, end to end: store the prompt, stream the reply over SSE, store the result.

``stream_generation`` yields the cumulative text after every delta (what Gradio shows). If the
consumer stops iterating (Stop cancels the Gradio task, which closes this generator), the HTTP
stream closes, the server aborts the request, and the partial text is stored as ``aborted``.
Every layer iterates the one below inside ``aclosing``: closing an outer async generator does not
close the inner one it is suspended in, so without it the connection would stay open until GC.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from app.client import ChatDelta, ChatRequest, EngineError
from app.ui.gallery import Controls
from app.ui.services import Services
from app.ui.store import GenerationRecord

log = logging.getLogger(__name__)

FRAME_S = 0.05  # at most 20 screen updates a second per stream
# vLLM-compatible extras that make the engine extend the last assistant message in place.
CONTINUE_EXTRA = {"continue_final_message": True, "add_generation_prompt": False}


@dataclass(frozen=True)
class Job:
    """What to generate: who, in which session, the prompt, the style and the controls."""

    owner_id: int
    session_id: int
    prompt: str
    style: str
    controls: Controls
    prefix: str = ""  # text to continue; empty for a fresh generation
    seed: int | None = None


def chat_request(job: Job) -> ChatRequest:
    """The OpenAI chat request for a job (continuations send the text so far as the last message)."""
    messages = [{"role": "user", "content": job.prompt}]
    extra: dict[str, object] = {}
    if job.prefix:
        messages.append({"role": "assistant", "content": job.prefix})
        extra = dict(CONTINUE_EXTRA)
    c = job.controls
    return ChatRequest(style=job.style, messages=messages, lora_scale=c.strength, temperature=c.temperature,
                       top_p=c.top_p, max_tokens=c.max_tokens, seed=job.seed, extra=extra)


class _Meter:
    """Collects the text, timing and token usage of one stream."""

    def __init__(self, prefix: str) -> None:
        self.text = prefix
        self.started = time.monotonic()
        self.ttft_ms: float | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def add(self, delta: ChatDelta) -> bool:
        """Take one delta in; True when it carried new text."""
        self.prompt_tokens = delta.prompt_tokens or self.prompt_tokens
        self.completion_tokens = delta.completion_tokens or self.completion_tokens
        if not delta.text:
            return False
        if self.ttft_ms is None:
            self.ttft_ms = (time.monotonic() - self.started) * 1000
        self.text += delta.text
        return True

    def record(self, status: str) -> GenerationRecord:
        """The stored outcome."""
        return GenerationRecord(self.text, status, self.prompt_tokens, self.completion_tokens, self.ttft_ms,
                                (time.monotonic() - self.started) * 1000)


async def stream_generation(services: Services, job: Job) -> AsyncIterator[str]:
    """Yield the cumulative text as deltas arrive; store the outcome whatever happens."""
    message_id = await asyncio.to_thread(
        services.store.start_generation, job.owner_id, job.session_id, job.prompt, job.style,
        job.controls.strength, job.controls.params())
    meter, status = _Meter(job.prefix), "aborted"
    try:
        async with aclosing(services.client.stream_chat(chat_request(job))) as deltas:
            async for delta in deltas:
                if meter.add(delta):
                    yield meter.text
        status = "complete"
    except EngineError:
        status = "error"
        raise
    finally:
        _finish(services, message_id, meter.record(status))


async def throttled(texts: AsyncIterator[str], interval: float = FRAME_S) -> AsyncIterator[str]:
    """Pass the latest text on at most once per ``interval`` seconds, and always the last one.

    A fast engine makes hundreds of deltas a second; re-rendering the page for each one would make
    the browser (and its Stop button) lag behind the stream."""
    pending, sent_at = None, -interval
    async with aclosing(texts) as source:
        async for text in source:
            pending = text
            if time.monotonic() - sent_at >= interval:
                yield text
                pending, sent_at = None, time.monotonic()
    if pending is not None:
        yield pending


def _finish(services: Services, message_id: int, record: GenerationRecord) -> None:
    """Store the outcome synchronously: this also runs while the generator is being closed."""
    try:
        services.store.finish_generation(message_id, record)
    except Exception:  # storing must never hide the writer's text or the engine's error
        log.exception("could not store the outcome of message %s", message_id)
