"""Callbacks of the writing area: Generate, Regenerate, Continue, browsing alternatives, New piece.

Each streaming callback is an async generator yielding ``(text, draft, alternative label, status)``
after every delta, so the text grows on screen as the SSE stream arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from app.client import EngineError
from app.ui.gallery import Controls
from app.ui.draft import Draft
from app.ui.generation import Job, stream_generation, throttled
from app.ui.services import Services
from app.ui.store import Viewer

WriterOut = tuple[str, Draft, str, str]
WRITING = "Writing…"
DONE = "Done."
TITLE_CHARS = 60


def warn(message: str) -> str:
    """A status line for a problem, in words."""
    return f"⚠️ {message}"


def session_title(prompt: str) -> str:
    """A history title from the first line of a prompt."""
    line = " ".join(prompt.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def check_request(services: Services, viewer: Viewer | None, prompt: str, style: str | None) -> None:
    """Raise ValueError in words when a generation can't start."""
    if viewer is None:
        raise ValueError("Log in or continue as a guest first.")
    if not (prompt or "").strip():
        raise ValueError("Write a prompt first.")
    services.gallery.card(style)


async def ensure_session(services: Services, viewer: Viewer, draft: Draft, prompt: str, style: str) -> int:
    """The draft's session id, creating the session on the first generation."""
    if draft.session_id is None:
        draft.session_id = await asyncio.to_thread(
            services.store.new_session, viewer.user_id, session_title(prompt), style)
    return draft.session_id


async def _stream_take(services: Services, draft: Draft, job: Job) -> AsyncIterator[WriterOut]:
    """Stream one job into the draft's current alternative."""
    yield draft.current(), draft, draft.label(), WRITING
    try:
        async with aclosing(throttled(stream_generation(services, job))) as texts:
            async for text in texts:
                draft.set_current(text)
                yield text, draft, draft.label(), WRITING
    except EngineError as exc:
        if not draft.current() and not job.prefix:
            draft.alternatives.pop()
            draft.index = len(draft.alternatives) - 1
        yield draft.current(), draft, draft.label(), warn(exc.message)
        return
    yield draft.current(), draft, draft.label(), DONE


async def run_take(services: Services, mode: str, viewer: Viewer | None, draft: Draft, prompt: str,
                   style: str | None, *controls: float) -> AsyncIterator[WriterOut]:
    """Generate (fresh alternatives), regenerate (one more alternative) or continue (extend).

    ``controls`` are the slider values: strength, temperature, top-p, max tokens."""
    draft = draft or Draft()
    if mode == "continue" and draft.prompt:
        prompt = draft.prompt
    try:
        check_request(services, viewer, prompt, style)
        chosen = Controls.from_sliders(*controls)
        if mode != "generate" and not draft.alternatives:
            raise ValueError("Generate something first.")
        session_id = await ensure_session(services, viewer, draft, prompt, style)
    except ValueError as exc:
        yield draft.current(), draft, draft.label(), warn(str(exc))
        return
    prefix = draft.current() if mode == "continue" else ""
    if mode == "generate":
        draft.alternatives, draft.index = [], -1
    if mode != "continue":
        draft.start_take()
    draft.prompt, draft.style = prompt, style
    job = Job(viewer.user_id, session_id, prompt, style, chosen, prefix=prefix)
    async with aclosing(_stream_take(services, draft, job)) as outs:
        async for out in outs:
            yield out


def browse(draft: Draft, step: int) -> tuple[str, Draft, str]:
    """Show the previous (-1) or next (+1) alternative."""
    draft = draft or Draft()
    draft.move(step)
    return draft.current(), draft, draft.label()


def new_piece() -> tuple[str, str, Draft, str, str]:
    """Clear prompt and text and start a new session on the next Generate."""
    draft = Draft()
    return "", "", draft, draft.label(), "New piece: write a prompt and press Generate."
