"""The History tab: the viewer's sessions; open, rename, delete, export, share, revoke."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import gradio as gr

from app.ui import history
from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.write_tab import WriteTab


def build_history_tab(services: Services, viewer: gr.State, draft: gr.State, write: WriteTab) -> gr.Dropdown:
    """Render the tab and wire its events; returns the session picker (refreshed on sign-in)."""
    with gr.Row(equal_height=True):
        picker = gr.Dropdown([], label="Session", elem_id="session-picker", scale=4)
        refresh = gr.Button("Refresh", size="sm", elem_id="history-refresh")
        open_button = gr.Button("Open", variant="primary", size="sm", elem_id="history-open")
    with gr.Row(equal_height=True):
        title = gr.Textbox(label="New title", elem_id="rename-title", scale=4)
        rename = gr.Button("Rename", size="sm", elem_id="history-rename")
        delete = gr.Button("Delete", variant="stop", size="sm", elem_id="history-delete")
    with gr.Row(equal_height=True):
        export_md = gr.Button("Export Markdown", size="sm", elem_id="export-markdown")
        export_txt = gr.Button("Export text", size="sm", elem_id="export-text")
        share = gr.Button("Share link", size="sm", elem_id="history-share")
        revoke = gr.Button("Revoke link", size="sm", elem_id="history-revoke")
    link = gr.Textbox(label="Share link (read-only page)", interactive=False, buttons=["copy"], elem_id="share-link")
    exported = gr.File(label="Export", interactive=False, elem_id="export-file")
    status = gr.Markdown(elem_id="history-status")
    transcript = gr.Markdown(elem_id="transcript")

    refresh.click(partial(history.refresh, services), viewer, picker)
    open_button.click(partial(history.open_session, services), [viewer, picker],
                      [transcript, draft, write.prompt, write.output, write.alt_label, status])
    rename.click(partial(history.rename, services), [viewer, picker, title], [picker, status])
    delete.click(partial(history.delete, services), [viewer, picker], [picker, transcript, status])
    for button, fmt in ((export_md, "markdown"), (export_txt, "text")):
        button.click(partial(history.export, services, fmt=fmt), [viewer, picker], [exported, status])
    share.click(_share(services), [viewer, picker], [link, status])
    revoke.click(partial(history.revoke, services), [viewer, picker], [link, status])
    return picker


def _share(services: Services) -> Callable[..., tuple[str, str]]:
    """The Share callback; Gradio injects the request (for the link's host) by its annotation."""

    def share(viewer: Viewer | None, session_id: int | None, request: gr.Request) -> tuple[str, str]:
        return history.share(services, viewer, session_id, request)

    return share
