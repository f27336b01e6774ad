"""Compare: one prompt in up to four styles side by side, all streaming at once.

Every style's stream runs as its own task, so the engine sees them together (one mixed batch);
the callback yields all panes whenever any of them grows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from app.client import EngineError
from app.ui.gallery import Controls
from app.ui.generation import Job, stream_generation, throttled
from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.writer import check_request, session_title, warn

MAX_COMPARE = 4
CompareOut = tuple[str, ...]  # MAX_COMPARE texts, then the status line


def check_styles(styles: list[str] | None) -> list[str]:
    """The chosen styles, refusing none or more than MAX_COMPARE in words."""
    styles = list(styles or [])
    if not 1 <= len(styles) <= MAX_COMPARE:
        raise ValueError(f"Pick between 1 and {MAX_COMPARE} styles to compare (you picked {len(styles)}).")
    return styles


async def _pump(services: Services, job: Job, slot: int, queue: asyncio.Queue) -> None:
    """Stream one style into the shared queue as (slot, text); end with (slot, None)."""
    try:
        async with aclosing(throttled(stream_generation(services, job))) as texts:
            async for text in texts:
                await queue.put((slot, text))
    except EngineError as exc:
        await queue.put((slot, warn(exc.message)))
    finally:
        await queue.put((slot, None))


def _panes(texts: list[str], status: str) -> CompareOut:
    return (*texts, *[""] * (MAX_COMPARE - len(texts)), status)


async def _jobs(services: Services, viewer: Viewer, prompt: str, styles: list[str],
                controls: Controls) -> list[Job]:
    session_id = await asyncio.to_thread(services.store.new_session, viewer.user_id,
                                         "Compare: " + session_title(prompt), styles[0])
    return [Job(viewer.user_id, session_id, prompt, style, controls) for style in styles]


async def compare(services: Services, viewer: Viewer | None, prompt: str, styles: list[str] | None,
                  *controls: float) -> AsyncIterator[CompareOut]:
    """Stream every chosen style at once; yield all panes on each delta.

    ``controls`` are the slider values: strength, temperature, top-p, max tokens."""
    try:
        styles = check_styles(styles)
        for style in styles:
            check_request(services, viewer, prompt, style)
        jobs = await _jobs(services, viewer, prompt, styles, Controls.from_sliders(*controls))
    except ValueError as exc:
        yield _panes([], warn(str(exc)))
        return
    texts: list[str] = []
    async with aclosing(_race(services, jobs)) as panes:
        async for texts in panes:
            yield _panes(texts, "Writing…")
    yield _panes(texts, "Done.")


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
