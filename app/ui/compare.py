"""Compare: one prompt in up to four styles side by side, all streaming at once, each with its own
style's default settings.

Every style's stream runs as its own task, so the engine sees them together (one mixed batch);
the callback yields all panes whenever any of them grows. Comparing the same prompt again adds the
new takes to that prompt's one "Compare: …" session instead of starting another.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from app.client import EngineError
from app.ui.gallery import Gallery
from app.ui.generation import Job, stream_generation, throttled
from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.writer import DONE, check_request, session_title, warn

MAX_COMPARE = 4
TOO_MANY = f"Compare shows up to {MAX_COMPARE} styles at once: untick one before adding another."


@dataclass(frozen=True)
class CompareRun:
    """The prompt last compared in this tab and the session its takes are stored in."""

    prompt: str
    session_id: int


def check_styles(styles: list[str] | None) -> list[str]:
    """The chosen styles, refusing none or more than MAX_COMPARE in words."""
    styles = list(styles or [])
    if not styles:
        raise ValueError("Tick at least one style to compare.")
    if len(styles) > MAX_COMPARE:
        raise ValueError(TOO_MANY)
    return styles


def limit_styles(styles: list[str] | None, previous: list[str] | None) -> tuple[list[str], list[str], str]:
    """Keep at most MAX_COMPARE ticked: a tick beyond that is undone at once, with the reason.

    Returns (ticked styles, the state to remember, status)."""
    styles = list(styles or [])
    if len(styles) > MAX_COMPARE:
        kept = list(previous or [])[:MAX_COMPARE]
        return kept, kept, TOO_MANY
    return styles, styles, ""


def settings_label(gallery: Gallery, style: str) -> str:
    """A pane's label: the style and the default settings it runs with (the strength where the engine applies it)."""
    card = gallery.cards[style]
    d = card.defaults
    strength = f" · strength {d.strength:g}" if gallery.lora_scale_supported else ""
    return f"{card.name}{strength} · temperature {d.temperature:g} · top-p {d.top_p:g} · up to {d.max_tokens} tokens"


async def _pump(services: Services, job: Job, slot: int, queue: asyncio.Queue) -> None:
    """Stream one style into the shared queue as (slot, text); end with (slot, None)."""
    try:
        async with aclosing(throttled(stream_generation(services, job))) as stream:
            async for progress in stream:
                await queue.put((slot, progress.text))
    except EngineError as exc:
        await queue.put((slot, warn(exc.message)))
    finally:
        await queue.put((slot, None))


def _panes(texts: list[str], status: str, run: CompareRun | None) -> tuple:
    return (*texts, *[""] * (MAX_COMPARE - len(texts)), status, run)


async def _session(services: Services, viewer: Viewer, prompt: str, styles: list[str],
                   run: CompareRun | None) -> CompareRun:
    if run is not None and run.prompt.strip() == prompt.strip():
        return run
    session_id = await asyncio.to_thread(services.store.new_session, viewer.user_id,
                                         "Compare: " + session_title(prompt), styles[0])
    return CompareRun(prompt, session_id)


async def compare(services: Services, viewer: Viewer | None, run: CompareRun | None, prompt: str,
                  styles: list[str] | None) -> AsyncIterator[tuple]:
    """Stream every chosen style at once, each with its own defaults (strength and sampling); yield all panes
    on each delta."""
    try:
        styles = check_styles(styles)
        for style in styles:
            check_request(services, viewer, prompt, style)
        run = await _session(services, viewer, prompt, styles, run)
    except ValueError as exc:
        yield _panes([], warn(str(exc)), run)
        return
    jobs = [Job(viewer.user_id, run.session_id, prompt, s, services.gallery.cards[s].defaults) for s in styles]
    texts: list[str] = []
    async with aclosing(_race(services, jobs)) as panes:
        async for texts in panes:
            yield _panes(texts, "Writing…", run)
    yield _panes(texts, DONE, run)


async def _race(services: Services, jobs: list[Job]) -> AsyncIterator[list[str]]:
    """Run every job as its own task; yield all texts whenever any grew (closing cancels them all)."""
    texts, queue = [""] * len(jobs), asyncio.Queue()
    tasks = [asyncio.create_task(_pump(services, job, i, queue)) for i, job in enumerate(jobs)]
    running = len(tasks)
    try:
        while running:
            updates = [await queue.get()]
            while not queue.empty():  # coalesce whatever else arrived meanwhile
                updates.append(queue.get_nowait())
            for slot, text in updates:
                running -= text is None
                texts[slot] = texts[slot] if text is None else text
            yield list(texts)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
