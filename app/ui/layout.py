"""The whole Gradio app: sign-in, the writer (Write, Compare, History) and the embed writer.

Which of the three shows is decided on page load: ``?embed=1`` shows only the embed writer;
otherwise a verified session cookie brings the writer back (with their latest piece), else the
sign-in panel shows.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui import auth
from app.ui.compare_tab import build_compare_tab
from app.ui.draft import Draft
from app.ui.embed import build_embed, embed_title
from app.ui.gallery import Gallery
from app.ui.history_tab import build_history_tab
from app.ui.page_js import DARK_TOGGLE_JS
from app.ui.resume import resumed
from app.ui.services import Services
from app.ui.signin_panel import build_signin
from app.ui.write_tab import WriteTab, build_write_tab


def page_mode(gallery: Gallery, query: dict[str, str]) -> tuple[Any, ...]:
    """Visibility of (sign-in, app, embed), the embed style and the embed heading for a page URL."""
    if query.get("embed") == "1":
        style = query.get("style") or gallery.first()
        return (gr.update(visible=False), gr.update(visible=False), gr.update(visible=True),
                style, embed_title(gallery, style))
    return gr.update(visible=True), gr.update(visible=False), gr.update(visible=False), None, ""


def _app_column(services: Services, viewer: gr.State, draft: gr.State) -> tuple[Any, ...]:
    """The signed-in writer; returns (column, who line, log-out button, session list, write tab)."""
    with gr.Column(visible=False, elem_id="app") as column:
        with gr.Row(equal_height=True, elem_id="top-bar"):
            who = gr.Markdown(elem_id="who")
            dark = gr.Button("◐ Dark mode", size="sm", elem_id="dark-toggle", scale=0, min_width=0)
            log_out = gr.Button("Log out", size="sm", elem_id="log-out", scale=0, min_width=0)
        dark.click(None, js=DARK_TOGGLE_JS)
        with gr.Tabs():
            with gr.Tab("Write", id="write"):
                write = build_write_tab(services, viewer, draft)
            with gr.Tab("Compare", id="compare"):
                build_compare_tab(services, viewer)
            with gr.Tab("History", id="history") as history_tab:
                sessions = build_history_tab(services, viewer, draft, write)
    sessions.reload_on(history_tab.select, services, viewer)
    return column, who, log_out, sessions, write


def build_blocks(services: Services) -> gr.Blocks:
    """Build the Blocks (not yet mounted), with the queue open to concurrent writers.

    Only the streaming events (the writers' generators) go through Gradio's queue; every other event
    is a plain request and its answer (``queue=False``). The browser client reads queued results on
    one event stream per page, which the server closes once nothing is pending; a click that joins
    the queue as that close is on its way is lost and waits forever. With quick events off the queue,
    no queued event finishes under a click (typing saves the unsent prompt; Ctrl+Enter writes).
    """
    with gr.Blocks(title="Inkwell") as blocks:
        viewer, draft, embed_style = gr.State(None), gr.State(Draft()), gr.State(None)
        gr.Markdown("# ✒️ Inkwell", elem_id="brand")
        signin = build_signin(services.guests)
        column, who, log_out, sessions, write = _app_column(services, viewer, draft)
        embed_column, embed_heading = build_embed(services, viewer, draft, embed_style)
        signed = [viewer, signin.column, column, who, signin.status]
        signin.wire(services, signed)
        log_out.click(auth.log_out, None, [*signed, signin.username, signin.password, signin.token],
                      queue=False).then(None, js=auth.END_SESSION_JS)
        sessions.reload_on(who.change, services, viewer)
        _wire_load(blocks, services, signed, embed_column, embed_style, embed_heading, write, draft)
    blocks.queue(default_concurrency_limit=None)
    return blocks


def _wire_load(blocks: gr.Blocks, services: Services, signed: list[Any], embed_column: Any, embed_style: gr.State,
               embed_heading: gr.Markdown, write: WriteTab, draft: gr.State) -> None:
    """On page load: the mode from the URL, and a writer signed in by cookie back where they were."""

    def on_load(request: gr.Request) -> tuple[Any, ...]:
        signin, app, embed, style, heading = page_mode(services.gallery, dict(request.query_params))
        viewer = None if style is not None else auth.from_cookie(services, request)
        if viewer is not None:
            signin, app = gr.update(visible=False), gr.update(visible=True)
            return (viewer, signin, app, auth.who_line(viewer), "", embed, style, heading,
                    *resumed(services, viewer))
        return (None, signin, app, "", "", embed, style, heading, *(gr.update(),) * 7)

    back = [draft, write.prompt, write.output, write.take_label, write.counts, write.panel.style, write.status]
    blocks.load(on_load, None, [*signed, embed_column, embed_style, embed_heading, *back], queue=False)
