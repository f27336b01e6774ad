"""Where a writer left off: the latest piece after a reload or restart, and the prompt still being typed.

The prompt box is autosaved as the writer types (``keep_unsent``); the unsent prompt is forgotten when a
take is generated from it or New piece clears it, and comes back on the next page load (``resumed``).
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from app.ui import history
from app.ui.services import Services
from app.ui.store import Viewer

log = logging.getLogger(__name__)
UNSENT = "Your unsent prompt is back: press Generate when it is ready."


def keep_unsent(services: Services, viewer: Viewer | None, prompt: str, style: str | None) -> None:
    """Autosave the prompt box ('' forgets it). A refusal is logged, never shown: the text stays on screen."""
    if viewer is None:
        return
    try:
        services.store.save_unsent(viewer.user_id, prompt or "", style)
    except ValueError as exc:
        log.warning("unsent prompt of user %s not saved: %s", viewer.user_id, exc)


def resumed(services: Services, viewer: Viewer | None) -> tuple[Any, ...]:
    """The Write tab after a page load: (draft, prompt, text, take label, counts, style, status).

    The latest session's piece in its style; an unsent prompt (and its style) on top of it."""
    rows = services.store.list_sessions(viewer.user_id) if viewer else []
    out = [gr.update()] * 7
    if rows:
        opened = history.open_session(services, viewer, rows[0].id)
        out[:6] = opened[1], opened[2], opened[3], opened[4], opened[6], opened[5]
    unsent = services.store.unsent(viewer.user_id) if viewer else None
    if unsent is not None:
        prompt, style = unsent
        out[1], out[6] = prompt, UNSENT
        if style in services.gallery.cards:
            out[5] = style
    return tuple(out)
