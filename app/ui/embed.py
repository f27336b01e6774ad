"""The embed writer (``/?embed=1&style=poetry``): one fixed style, a prompt, Generate and Stop.

Visitors need no account: it writes as a guest made on the first Generate, with the style's default
controls, and speaks to visitors in its own words (never about logging in).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import astuple
from functools import partial
from typing import Any

import gradio as gr

from app.ui.draft import Draft
from app.ui.gallery import Gallery
from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.write_tab import wire_stop
from app.ui.writer import run_take, warn

EmbedOut = tuple[Viewer | None, Draft, Any, str]
NO_STYLE = "This writer isn't available right now."
NO_PROMPT = "Type what you would like written, then press Generate."
CLOSED = "This writer is private right now."


def embed_title(gallery: Gallery, style: str | None) -> str:
    """The heading of the embed writer, or the problem in words."""
    if style in gallery.cards:
        return f"### ✒️ {gallery.cards[style].name}"
    return warn(NO_STYLE)


async def embed_take(services: Services, viewer: Viewer | None, draft: Draft, prompt: str,
                     style: str | None) -> AsyncIterator[EmbedOut]:
    """Generate in the fixed style with its defaults; yields (viewer, draft, text, status)."""
    card = services.gallery.cards.get(style or "")
    if card is None or not (prompt or "").strip():
        yield viewer, draft, gr.update(), warn(NO_STYLE if card is None else NO_PROMPT)
        return
    if viewer is None and not services.guests:
        yield viewer, draft, gr.update(), warn(CLOSED)
        return
    if viewer is None:
        viewer = await asyncio.to_thread(services.store.guest)
    controls = astuple(card.defaults)
    async with aclosing(run_take(services, "generate", viewer, draft, prompt, "", style, *controls)) as outs:
        async for text, draft, _label, status, _counts in outs:
            yield viewer, draft, text, status


def build_embed(services: Services, viewer: gr.State, draft: gr.State, style: gr.State) -> tuple[Any, gr.Markdown]:
    """Render the (initially hidden) embed column; returns it and its heading."""
    with gr.Column(visible=False, elem_id="embed") as column:
        title = gr.Markdown(elem_id="embed-title")
        prompt = gr.Textbox(lines=3, label="Prompt", elem_id="embed-prompt")
        with gr.Row(elem_classes=["ink-buttons"]):
            generate = gr.Button("Generate", variant="primary", elem_id="embed-generate", min_width=0)
            stop = gr.Button("Stop", variant="stop", elem_id="embed-stop", min_width=0)
        status = gr.Markdown(elem_id="embed-status", elem_classes=["ink-status"])
        output = gr.Textbox(lines=10, label="Text", interactive=False, buttons=["copy"], elem_id="embed-output")
    event = generate.click(partial(embed_take, services), [viewer, draft, prompt, style],
                           [viewer, draft, output, status], show_progress="hidden", api_name="embed_text")
    wire_stop(stop, [event], status)
    return column, title
