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
from typing import Any

from app.client import ChatDelta, ChatRequest, EngineError
from app.ui.blend_control import describe_blend
from app.ui.gallery import Controls
from app.ui.services import Services
from app.ui.store import GenerationRecord

log = logging.getLogger(__name__)

FRAME_S = 0.05  # at most 20 screen updates a second per stream
PARTIAL_S = 1.0  # a streaming reply's text is stored this often (a kill -9 loses at most this much)
# vLLM-compatible extras that make the engine extend the last assistant message in place.
CONTINUE_EXTRA = {"continue_final_message": True, "add_generation_prompt": False}
STOPPING = "The server is restarting: your text so far is saved. Press Continue in a moment to go on."


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
    message_id: int | None = None  # the stored reply a continuation extends; None: store a new one
    styles: list[dict[str, Any]] | None = None  # the API's ``styles`` list of a blend (None for one style)

    def params(self) -> dict[str, Any]:
        """The settings stored with the take: sampling, and the blend when there is one."""
        return {**self.controls.params(), **({"blend": describe_blend(self.styles)} if self.styles else {})}


@dataclass(frozen=True)
class Progress:
    """What the writer sees of a stream so far: the whole text, tokens generated, time, why it ended."""

    text: str
    message_id: int
    tokens: int = 0
    elapsed_s: float = 0.0
    finish_reason: str | None = None


def chat_request(job: Job) -> ChatRequest:
    """The OpenAI chat request for a job (continuations send the text so far as the last message)."""
    messages = [{"role": "user", "content": job.prompt}]
    extra: dict[str, object] = {}
    if job.prefix:
        messages.append({"role": "assistant", "content": job.prefix})
        extra = dict(CONTINUE_EXTRA)
    c = job.controls
    return ChatRequest(style=job.style, messages=messages, lora_scale=c.strength, temperature=c.temperature,
                       top_p=c.top_p, max_tokens=c.max_tokens, seed=job.seed, styles=job.styles, extra=extra)


class _Meter:
    """Collects the text, timing and token usage of one stream."""

    def __init__(self, prefix: str) -> None:
        self.text = prefix
        self.started = time.monotonic()
        self.ttft_ms: float | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.deltas = 0
        self.finish_reason: str | None = None

    def add(self, delta: ChatDelta) -> bool:
        """Take one delta in; True when it carried new text (or why the stream ended, or its usage)."""
        self.prompt_tokens = delta.prompt_tokens or self.prompt_tokens
        self.completion_tokens = delta.completion_tokens or self.completion_tokens
        self.finish_reason = delta.finish_reason or self.finish_reason
        if not delta.text:  # the last frames: why it ended, then the token usage
            return delta.finish_reason is not None or delta.completion_tokens is not None
        if self.ttft_ms is None:
            self.ttft_ms = (time.monotonic() - self.started) * 1000
        self.text += delta.text
        self.deltas += 1
        return True

    def progress(self, message_id: int) -> Progress:
        """The stream so far, for the screen (tokens: the usage figure once known, else one per delta)."""
        return Progress(self.text, message_id, self.completion_tokens or self.deltas,
                        time.monotonic() - self.started, self.finish_reason)

    def record(self, status: str) -> GenerationRecord:
        """The stored outcome."""
        return GenerationRecord(self.text, status, self.prompt_tokens, self.completion_tokens, self.ttft_ms,
                                (time.monotonic() - self.started) * 1000)


async def _open_reply(services: Services, job: Job) -> int:
    """The stored reply this job writes into: a new one, or the continued one made pending again."""
    store = services.store
    if job.message_id is not None:
        await asyncio.to_thread(store.continue_generation, job.owner_id, job.message_id, job.prefix)
        return job.message_id
    return await asyncio.to_thread(store.start_generation, job.owner_id, job.session_id, job.prompt, job.style,
                                   job.controls.strength, job.params())


async def stream_generation(services: Services, job: Job) -> AsyncIterator[Progress]:
    """Yield the stream so far as deltas arrive; store the text every second and the outcome at the end.

    A stream cut off because the server is stopping is stored as aborted, with the text seen so far."""
    message_id = await _open_reply(services, job)
    meter, status, saved_at = _Meter(job.prefix), "aborted", time.monotonic()
    try:
        yield meter.progress(message_id)
        async with aclosing(services.client.stream_chat(chat_request(job))) as deltas:
            async for delta in deltas:
                if meter.add(delta):
                    yield meter.progress(message_id)
                if time.monotonic() - saved_at >= PARTIAL_S:
                    await asyncio.to_thread(_save_partial, services, message_id, meter.text)
                    saved_at = time.monotonic()
        status = "aborted" if services.stopping.is_set() else "complete"
    except EngineError:
        if services.stopping.is_set():
            raise EngineError(STOPPING) from None
        # a continuation that failed before adding anything leaves its take as it was
        status = "complete" if job.message_id is not None and meter.text == job.prefix else "error"
        raise
    finally:
        _finish(services, message_id, meter.record(status))


async def throttled(texts: AsyncIterator[Progress], interval: float = FRAME_S) -> AsyncIterator[Progress]:
    """Pass the latest progress on at most once per ``interval`` seconds, and always the last one
    (also when the stream then fails).

    A fast engine makes hundreds of deltas a second; re-rendering the page for each one would make
    the browser (and its Stop button) lag behind the stream."""
    pending, sent_at = None, -interval
    try:
        async with aclosing(texts) as source:
            async for text in source:
                pending = text
                if time.monotonic() - sent_at >= interval:
                    yield text
                    pending, sent_at = None, time.monotonic()
    except Exception:  # a failing stream still shows (and keeps) the text it had
        if pending is not None:
            yield pending
        raise
    if pending is not None:
        yield pending


def _save_partial(services: Services, message_id: int, text: str) -> None:
    try:
        services.store.save_partial(message_id, text)
    except Exception:  # a failed checkpoint must not end the stream; the outcome is stored at the end
        log.exception("could not store the partial text of message %s", message_id)


def _finish(services: Services, message_id: int, record: GenerationRecord) -> None:
    """Store the outcome synchronously: this also runs while the generator is being closed."""
    try:
        services.store.finish_generation(message_id, record)
    except Exception:  # storing must never hide the writer's text or the engine's error
        log.exception("could not store the outcome of message %s", message_id)
