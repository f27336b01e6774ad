"""An async OpenAI-compatible client: the only way the writer's app talks to an engine.

It streams chat completions over SSE (``stream=true``) and turns every failure into an
``EngineError`` whose message is words a writer can read. Closing the stream early (breaking out
of ``stream_chat``, or cancelling the task iterating it) closes the HTTP connection, which is how
the server learns to abort the request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

DATA_PREFIX = "data:"
DONE = "[DONE]"

BodyHook = Callable[[dict[str, Any]], dict[str, Any]]  # rewrites a request body before it is sent
UsageHook = Callable[[str, int, int], None]  # (model, prompt tokens, completion tokens) of a finished reply


class EngineError(Exception):
    """A failed engine call, carrying a message fit to show a writer (never a traceback)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion: ``style`` is the OpenAI ``model`` field (a style id); ``styles`` blends it with others."""

    style: str
    messages: list[dict[str, str]]
    lora_scale: float = 1.0
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None
    styles: list[dict[str, Any]] | None = None  # a blend: [{"name", "weight"}, ...], the first = ``style``
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of ``POST /chat/completions``."""
        body: dict[str, Any] = {
            "model": self.style,
            "messages": self.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "lora_scale": self.lora_scale,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.styles:  # the styles' weights replace the strength
            body["styles"] = self.styles
            del body["lora_scale"]
        return {**body, **self.extra}


@dataclass(frozen=True)
class ChatDelta:
    """One streamed event: new ``text`` and, on the last frames, why it ended and the token usage."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


BUSY = "The writing engine is busy right now. Please try again in a moment."
UNREACHABLE = "The writing engine can't be reached right now. Please try again in a moment."
FAILED = "Something went wrong while writing. Please try again; if it keeps happening, tell whoever runs Inkwell."
KEY_REFUSED = "The writing engine refused this app's key. Ask whoever runs Inkwell to check its API key."
NO_STYLE = "This style isn't available right now. Pick another style."
TOO_LONG = ("The prompt and the length you asked for don't fit in what the model can read at once{limit}. "
            "Shorten the prompt or choose a shorter length.")
_TOO_LONG = re.compile(r"exceeds max_model_len (\d+)|maximum context length is (\d+)|too long", re.I)


def plain_message(status: int | None, detail: str) -> str:
    """What a writer is told about a failed call: what happened and what to do, never internals.

    ``detail`` (the server's own message) goes to the server log instead."""
    too_long = _TOO_LONG.search(detail)
    if too_long:
        limit = too_long.group(1) or too_long.group(2)
        return TOO_LONG.format(limit=f" ({limit} tokens)" if limit else "")
    if status in (429, 503):
        return BUSY
    if status in (401, 403):
        return KEY_REFUSED
    if status == 404:
        return NO_STYLE
    return FAILED


def error_message(status: int, payload: bytes) -> str:
    """Turn an error response (OpenAI error JSON or anything else) into words; log the detail."""
    try:
        detail = str(json.loads(payload)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        detail = payload.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}"
    log.warning("engine answered %d: %s", status, detail)
    return plain_message(status, detail)


_LINE_END = re.compile(r"\r\n|\r|\n")


async def sse_lines(text: AsyncIterator[str]) -> AsyncIterator[str]:
    """The lines of a server-sent-event body as it arrives.

    Only CR LF, CR and LF end a line (the SSE format's rule), never the other characters that
    ``str.splitlines()``, and so httpx's ``aiter_lines``, end one at: a frame's JSON may hold U+2028,
    U+2029 or U+0085 unescaped (the engine writes non-ASCII text as is), and a split there made the frame
    unreadable and failed the writing.
    """
    pending = ""
    async for chunk in text:
        *lines, pending = _LINE_END.split(pending + chunk)
        for line in lines:
            yield line
    if pending:
        yield pending


def parse_frame(data: str) -> ChatDelta:
    """Parse one SSE ``data:`` payload of a chat completion chunk."""
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        log.warning("malformed stream frame from the engine: %r", data[:200])
        raise EngineError(FAILED) from exc
    if "error" in chunk:
        detail = str(chunk["error"].get("message", chunk["error"]))
        log.warning("engine stream failed: %s", detail)
        raise EngineError(plain_message(None, detail))
    usage = chunk.get("usage") or {}
    choices = chunk.get("choices") or [{}]
    choice = choices[0]
    return ChatDelta(
        text=(choice.get("delta") or {}).get("content") or "",
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


class EngineClient:
    """Streams chat completions from ``base_url`` (which ends in ``/v1``).

    For a remote engine that knows adapters but not styles (vLLM, SGLang), ``prepare`` adds what the
    style means to each body (system prompt, sampling defaults) and ``on_usage`` counts the finished
    replies, since that server records no style usage of its own.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 300.0,
                 prepare: BodyHook | None = None, on_usage: UsageHook | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._prepare, self._on_usage = prepare, on_usage
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=transport,
                                       timeout=httpx.Timeout(timeout, connect=10.0))

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Yield deltas as SSE frames arrive; raise ``EngineError`` on any failure."""
        body = self._prepare(request.body()) if self._prepare else request.body()
        try:
            async with self._http.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    raise EngineError(error_message(response.status_code, await response.aread()),
                                      response.status_code)
                async for line in sse_lines(response.aiter_text()):
                    if not line.startswith(DATA_PREFIX):
                        continue
                    data = line[len(DATA_PREFIX):].strip()
                    if data == DONE:
                        return
                    delta = parse_frame(data)
                    self._count(request.style, delta)
                    yield delta
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _count(self, model: str, delta: ChatDelta) -> None:
        if self._on_usage is not None and delta.completion_tokens is not None:
            self._on_usage(model, delta.prompt_tokens or 0, delta.completion_tokens)

    def _unreachable(self, exc: Exception) -> EngineError:
        log.warning("engine call to %s failed: %r", self.base_url, exc)
        return EngineError(UNREACHABLE)


def engine_base_url(settings: Any) -> str:
    """``settings.engine_url`` when set, else this same server's ``/v1``."""
    if getattr(settings, "engine_url", None):
        return str(settings.engine_url)
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{settings.port}/v1"


def client_from_settings(settings: Any, *, prepare: BodyHook | None = None,
                         on_usage: UsageHook | None = None) -> EngineClient:
    """The client the UI uses, per the server settings (hooks: see ``EngineClient``)."""
    return EngineClient(engine_base_url(settings), getattr(settings, "api_key", None), prepare=prepare,
                        on_usage=on_usage)
