"""The whole Gradio app: sign-in, the writer (gallery, Write, Compare, History) and the embed writer.

Which of the three shows is decided on page load: ``?embed=1`` shows only the embed writer,
otherwise the sign-in panel until someone signs in.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui import auth, history
from app.ui.gallery import Gallery
from app.ui.compare_tab import build_compare_tab
from app.ui.controls_panel import build_controls
from app.ui.draft import Draft
from app.ui.embed import build_embed, embed_title
from app.ui.history_tab import build_history_tab
from app.ui.services import Services
from app.ui.signin_panel import build_signin
from app.ui.write_tab import build_write_tab

CSS = """
.ink-card h3 {margin: 0 0 .3rem 0}
.ink-card p {margin: .2rem 0}
.ink-sample {font-style: italic; opacity: .8; font-size: .9em}
"""


def page_mode(gallery: Gallery, query: dict[str, str]) -> tuple[Any, ...]:
    """Visibility of (sign-in, app, embed), the embed style and the embed heading for a page URL."""
    if query.get("embed") == "1":
        style = query.get("style") or gallery.first()
        return (gr.update(visible=False), gr.update(visible=False), gr.update(visible=True),
                style, embed_title(gallery, style))
    return gr.update(visible=True), gr.update(visible=False), gr.update(visible=False), None, ""


def _app_column(services: Services, viewer: gr.State, draft: gr.State) -> tuple[Any, ...]:
    """The signed-in writer; returns (column, who line, log-out button, session picker)."""
    with gr.Column(visible=False, elem_id="app") as column:
        with gr.Row(equal_height=True):
            who = gr.Markdown(elem_id="who")
            log_out = gr.Button("Log out", size="sm", elem_id="log-out", scale=0)
        panel = build_controls(services.gallery)
        with gr.Tabs():
            with gr.Tab("Write", id="write"):
                write = build_write_tab(services, viewer, draft, panel)
            with gr.Tab("Compare", id="compare"):
                build_compare_tab(services, viewer, panel)
            with gr.Tab("History", id="history") as history_tab:
                picker = build_history_tab(services, viewer, draft, write)
    history_tab.select(lambda v: history.refresh(services, v), viewer, picker)
    return column, who, log_out, picker


def build_blocks(services: Services) -> gr.Blocks:
    """Build the Blocks (not yet mounted), with the queue open to concurrent writers."""
    with gr.Blocks(title="Inkwell") as blocks:
        viewer, draft, embed_style = gr.State(None), gr.State(Draft()), gr.State(None)
        gr.Markdown("# ✒️ Inkwell", elem_id="brand")
        signin = build_signin()
        column, who, log_out, picker = _app_column(services, viewer, draft)
        embed_column, embed_heading = build_embed(services, viewer, draft, embed_style)
        signed = [viewer, signin.column, column, who, signin.status]
        signin.wire(services, signed)
        log_out.click(auth.log_out, None, signed)
        who.change(lambda v: history.refresh(services, v), viewer, picker)

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            return page_mode(services.gallery, dict(request.query_params))

        blocks.load(on_load, None, [signin.column, column, embed_column, embed_style, embed_heading])
    blocks.queue(default_concurrency_limit=None)
    return blocks
