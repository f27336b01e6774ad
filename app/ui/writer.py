"""Callbacks of the writing area: Generate, Regenerate, Continue, Undo, browsing takes, New piece.

Each streaming callback is an async generator yielding ``(text, draft, take label, status, counts)``
after every delta, so the text grows on screen as the SSE stream arrives. A refused request never
touches the text on screen (``gr.update()``): the writer's text is never blanked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.client import EngineError
from app.ui.blend_control import blend_styles
from app.ui.draft import Draft, Take
from app.ui.gallery import Controls
from app.ui.generation import Job, Progress, stream_generation, throttled
from app.ui.services import Services
from app.ui.store import Viewer

WriterOut = tuple[Any, Draft, str, str, str]
WRITING = "Writing…"
DONE = "Done."
AT_LIMIT = "Stopped at the length limit ({tokens} tokens in {elapsed:.1f} s) — press Continue to write more."
TITLE_CHARS = 60


def warn(message: str) -> str:
    """A status line for a problem, in words."""
    return f"⚠️ {message}"


def session_title(prompt: str) -> str:
    """A history title from the first line of a prompt."""
    line = " ".join(prompt.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def counts(text: str, total: int | None = None, generated: int | None = None) -> str:
    """The line under the text: its words and its tokens; without a tokenizer (a remote engine), the tokens
    the last generation made instead (the status line says how many a generation made either way)."""
    words = len((text or "").split())
    line = f"{words} word{'s' * (words != 1)}"
    if total is not None:
        return line + f" · {total} token{'s' * (total != 1)}"
    return line + (f" · {generated} tokens generated" if generated else "")


def text_counts(services: Services, text: str, generated: int | None = None) -> str:
    """:func:`counts` of ``text`` with its tokens counted by the served model's tokenizer."""
    return counts(text, services.count_tokens(text or ""), generated)


def working(progress: Progress) -> str:
    """The working state beside the buttons: elapsed time and tokens so far."""
    return f"{WRITING} {progress.elapsed_s:.1f} s · {progress.tokens} tokens"


def outcome(progress: Progress) -> str:
    """How a finished stream ended, in words (the length limit is not a finish)."""
    if progress.finish_reason == "length":
        return AT_LIMIT.format(tokens=progress.tokens, elapsed=progress.elapsed_s)
    return f"{DONE} {progress.tokens} tokens in {progress.elapsed_s:.1f} s."


def check_request(services: Services, viewer: Viewer | None, prompt: str, style: str | None) -> None:
    """Raise ValueError in words when a generation can't start."""
    if viewer is None:
        raise ValueError("Log in or continue as a guest first.")
    if not (prompt or "").strip():
        raise ValueError("Write a prompt first.")
    services.gallery.card(style)


@dataclass
class _Plan:
    """What one press of a writing button does."""

    take: Take
    job_prefix: str
    in_place: bool  # a Continue extending the take on screen (else a new take)


def _fresh_piece(draft: Draft, mode: str, prompt: str) -> bool:
    """True when a Generate or Regenerate brings a prompt other than the piece's: a new session."""
    return mode != "continue" and bool(draft.prompt) and prompt.strip() != draft.prompt.strip()


def _plan(services: Services, mode: str, draft: Draft, text: str, style: str, chosen: Controls) -> _Plan:
    """The take a press writes into and the text it continues (ValueError when there is nothing to continue)."""
    current = draft.take()
    if mode == "continue":
        if not text.strip():
            raise ValueError("There is no text to continue yet: press Generate first.")
        if current is not None and current.message_id is not None:
            return _Plan(current, text, True)
        prefix = text
    else:
        prefix = current.base if mode == "regenerate" and current is not None else ""
    card = services.gallery.card(style)
    take = Take(prefix, style, card.name, chosen.strength, time.strftime("%H:%M"), base=prefix)
    return _Plan(take, prefix, False)


async def _session(services: Services, viewer: Viewer, draft: Draft, prompt: str, style: str) -> bool:
    """Give the draft a session (made now on its first generation); True when it was made now."""
    if draft.session_id is not None:
        return False
    draft.session_id = await asyncio.to_thread(
        services.store.new_session, viewer.user_id, session_title(prompt), style)
    return True


async def _undo_failure(services: Services, viewer: Viewer, draft: Draft, plan: _Plan, made_session: bool) -> None:
    """A take that failed before any text came: forget it, and the session it would have started."""
    if plan.in_place or plan.take.text != plan.job_prefix:
        return
    draft.drop()
    if plan.take.message_id is not None:
        await asyncio.to_thread(services.store.delete_take, viewer.user_id, plan.take.message_id)
    if made_session and not draft.takes:
        await asyncio.to_thread(services.store.delete_session, viewer.user_id, draft.session_id)
        draft.session_id = None


async def _stream(services: Services, viewer: Viewer, draft: Draft, plan: _Plan, job: Job,
                  made_session: bool) -> AsyncIterator[WriterOut]:
    take = plan.take
    last: Progress | None = None
    try:
        async with aclosing(throttled(stream_generation(services, job))) as stream:
            async for last in stream:
                take.text, take.message_id = last.text, last.message_id
                yield take.text, draft, draft.label(), working(last), text_counts(services, take.text, last.tokens)
    except EngineError as exc:
        await _undo_failure(services, viewer, draft, plan, made_session)
        shown = draft.current() if draft.takes else gr.update()
        yield shown, draft, draft.label(), warn(exc.message), text_counts(services, draft.current())
        return
    generated = last.tokens if last else None
    yield take.text, draft, draft.label(), outcome(last), text_counts(services, take.text, generated)


async def run_take(services: Services, mode: str, viewer: Viewer | None, draft: Draft | None, prompt: str,
                   text: str | None, style: str | None, *controls: float) -> AsyncIterator[WriterOut]:
    """Generate (a new take), Regenerate (another take of the same start) or Continue (extend the text on
    screen, the writer's edits included).

    ``controls`` are the slider values: strength, temperature, top-p, max tokens, then the "Blend with"
    control's (style, weight) pairs."""
    draft = draft or Draft()
    text = text or ""
    if mode == "continue" and draft.prompt:
        prompt = draft.prompt
    try:
        check_request(services, viewer, prompt, style)
        chosen = Controls.from_sliders(*controls[:4])
        blend = blend_styles(style, chosen.strength, *controls[4:])  # a bad blend is refused here, in words
        if _fresh_piece(draft, mode, prompt):
            draft = Draft()
        plan = _plan(services, mode, draft, text, style, chosen)
        if plan.in_place and plan.take.text != text:
            plan.take.text = text
        made_session = await _session(services, viewer, draft, prompt, style)
    except ValueError as exc:
        yield gr.update(), draft, draft.label(), warn(str(exc)), gr.update()
        return
    if plan.in_place:
        plan.take.base, plan.take.continued = text, True
    else:
        draft.add(plan.take)
    draft.prompt, draft.style = prompt, style
    job = Job(viewer.user_id, draft.session_id, prompt, style, chosen, prefix=plan.job_prefix,
              message_id=plan.take.message_id if plan.in_place else None, styles=blend)
    async with aclosing(_stream(services, viewer, draft, plan, job, made_session)) as outs:
        async for out in outs:
            yield out


def undo(services: Services, viewer: Viewer | None, draft: Draft | None) -> tuple[Any, Draft, str, str, str]:
    """Take back the last generation of the take on screen; returns (text, draft, label, status, counts)."""
    draft = draft or Draft()
    take = draft.take()
    if viewer is None or take is None or take.message_id is None:
        return gr.update(), draft, draft.label(), warn("There is nothing to undo."), gr.update()
    if take.continued:
        services.store.edit_take(viewer.user_id, take.message_id, take.base)
        take.text, take.continued = take.base, False
        status = "Undone: the continuation is gone."
    else:
        services.store.delete_take(viewer.user_id, take.message_id)
        draft.drop()
        status = "Undone: that take is gone."
    return draft.current(), draft, draft.label(), status, text_counts(services, draft.current())


def edit(services: Services, viewer: Viewer | None, draft: Draft | None, text: str) -> tuple[Draft, str]:
    """Keep the writer's edit of the take on screen (autosaved); returns (draft, counts).

    A take still streaming is not edited here (its stream stores its own text)."""
    draft = draft or Draft()
    take = draft.take()
    if take is not None and viewer is not None and take.message_id is not None and take.text != text:
        try:
            services.store.edit_take(viewer.user_id, take.message_id, text)
        except ValueError:  # StoreError included: still being generated, or gone
            return draft, text_counts(services, text)
        take.text = text
    return draft, text_counts(services, text)


def browse(services: Services, draft: Draft, step: int) -> tuple[str, Draft, str, str]:
    """Show the previous (-1) or next (+1) take; returns (text, draft, label, counts)."""
    draft = draft or Draft()
    draft.move(step)
    return draft.current(), draft, draft.label(), text_counts(services, draft.current())


def new_piece() -> tuple[str, str, Draft, str, str, str]:
    """Clear prompt and text and start a new session on the next Generate."""
    draft = Draft()
    return "", "", draft, draft.label(), "New piece: write a prompt and press Generate.", counts("")
