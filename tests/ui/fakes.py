"""Test doubles for the UI: style records and a scripted OpenAI SSE endpoint (httpx MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from app.catalog import Catalog, CatalogEntry, base_entry
from app.client import EngineClient
from app.ui.gallery import Gallery
from app.ui.services import Services
from app.ui.session_cookie import SessionSigner
from app.ui.store import Store


def style(name: str, title: str, description: str, examples: tuple[str, ...] = (), **defaults: Any) -> CatalogEntry:
    """A catalog entry of a style (no real adapter behind it: the engine is scripted)."""
    return CatalogEntry(name=name, kind="style", root=f"/adapters/{name}", has_adapter=True, display_name=title,
                        description=description, examples=examples, defaults=defaults)


STYLES = [
    style("poetry", "Poetry", "Verse with a lilt.", ("Roses <b>are</b> red",), temperature=0.9, max_tokens=64,
          lora_scale=1.25),
    style("pirate", "Pirate", "Arr.", top_p=0.8, repetition_penalty=1.1),
    style("legal", "Legal", "Whereas.", ("The party of the first part",)),
]


def catalog(entries: list[CatalogEntry] = STYLES) -> Catalog:
    """A catalog of the base and ``entries``."""
    served = Catalog(base_entry("tiny", "/models/tiny"))
    for entry in entries:
        served.add(entry)
    return served


def chunk(text: str = "", finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    """One OpenAI chat.completion.chunk as an SSE frame."""
    choices = [] if usage else [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}]
    body: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                            "choices": choices}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


class ClosingStream(httpx.AsyncByteStream):
    """A response body that tells its producer when the client hangs up (like a real disconnect)."""

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        self.frames = frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for frame in self.frames:
            yield frame

    async def aclose(self) -> None:
        await self.frames.aclose()


class ScriptedEngine:
    """A MockTransport OpenAI server: each chat request streams ``words`` (per style if a dict)."""

    def __init__(self, words: list[str] | dict[str, list[str]], delay: float = 0.0) -> None:
        self.words = words
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.open_streams = 0
        self.closed_early = 0
        self.started: dict[str, asyncio.Event] = {}
        self.gate: asyncio.Event | None = None  # when set, streams wait for it after their first word

    def transport(self) -> httpx.MockTransport:
        """The transport to give ``EngineClient``."""
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        words = self.words[body["model"]] if isinstance(self.words, dict) else self.words
        self.started.setdefault(body["model"], asyncio.Event())
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=ClosingStream(self._frames(body["model"], words)))

    async def _frames(self, model: str, words: list[str]) -> AsyncIterator[bytes]:
        self.open_streams += 1
        finished = False
        try:
            for i, word in enumerate(words):
                yield chunk(word)
                self.started[model].set()
                if i == 0 and self.gate is not None:
                    await self.gate.wait()
                await asyncio.sleep(self.delay)
            yield chunk(finish="stop")
            yield chunk(usage={"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 7 + len(words)})
            yield b"data: [DONE]\n\n"
            finished = True
        finally:
            self.open_streams -= 1
            self.closed_early += not finished


def make_services(engine: ScriptedEngine | httpx.MockTransport, store: Store,
                  signer: SessionSigner | None = None, guests: bool = True,
                  count_tokens: Callable[[str], int | None] | None = None) -> Services:
    """Services over a fake engine, a real store and the three test styles (``signer``: session cookies;
    ``count_tokens``: a token counter, else words only)."""
    transport = engine.transport() if isinstance(engine, ScriptedEngine) else engine
    client = EngineClient("http://engine.test/v1", transport=transport)
    more = {"count_tokens": count_tokens} if count_tokens else {}
    return Services(client=client, store=store, gallery=Gallery(catalog()), signer=signer,
                    guests=guests, **more)
