"""The History tab: the viewer's sessions; open, rename, delete (after a question), export, share, revoke."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from app.ui import history
from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.write_tab import WriteTab, restoring


@dataclass(frozen=True)
class SessionList:
    """The session picker and the list it shows (so an unchanged list is not sent again)."""

    picker: gr.Dropdown
    shown: gr.State

    def reload_on(self, trigger: Callable[..., Any], services: Services, viewer: gr.State) -> Any:
        """Reload the list when ``trigger`` (an event listener such as ``tab.select``) fires."""
        return trigger(partial(history.reload_list, services), [viewer, self.picker, self.shown],
                       [self.picker, self.shown], show_progress="hidden", queue=False)


def build_history_tab(services: Services, viewer: gr.State, draft: gr.State, write: WriteTab) -> SessionList:
    """Render the tab and wire its events; returns the session list (reloaded on sign-in and on opening)."""
    with gr.Row(elem_classes=["ink-field-row"]):
        picker = gr.Dropdown([], label="Session", elem_id="session-picker", scale=4)
        refresh = gr.Button("Refresh", size="sm", elem_id="history-refresh", min_width=0, scale=0)
        open_button = gr.Button("Open", variant="primary", size="sm", elem_id="history-open", min_width=0, scale=0)
    with gr.Row(elem_classes=["ink-field-row"]):
        title = gr.Textbox(label="New title", elem_id="rename-title", scale=4)
        rename = gr.Button("Rename", size="sm", elem_id="history-rename", min_width=0, scale=0)
        delete = gr.Button("Delete…", variant="stop", size="sm", elem_id="history-delete", min_width=0, scale=0)
    with gr.Row(visible=False, elem_id="confirm-delete") as confirm:
        really = gr.Button("Yes, delete it", variant="stop", size="sm", elem_id="history-delete-yes")
        keep = gr.Button("No, keep it", size="sm", elem_id="history-delete-no")
    with gr.Row(equal_height=True, elem_classes=["ink-buttons"]):
        exports = {fmt: gr.Button(f"Export {label}", size="sm", elem_id=f"export-{fmt}", min_width=0)
                   for fmt, label in (("markdown", "Markdown"), ("text", "text"), ("docx", "Word"))}
        share = gr.Button("Share link", size="sm", elem_id="history-share", min_width=0)
        revoke = gr.Button("Revoke link", size="sm", elem_id="history-revoke", min_width=0)
    status = gr.Markdown(elem_id="history-status", elem_classes=["ink-status"])
    link = gr.Textbox(label="Share link (read-only page)", interactive=False, buttons=["copy"], elem_id="share-link")
    exported = gr.File(label="Export", interactive=False, elem_id="export-file", visible=False)
    transcript = gr.Markdown(elem_id="transcript")

    sessions = SessionList(picker, gr.State(None))
    restore = restoring(services)
    sessions.reload_on(refresh.click(restore, viewer, viewer, queue=False).then, services, viewer)
    picker.change(history.picked, picker, [link, exported, confirm, status], queue=False)
    opened = [transcript, draft, write.prompt, write.output, write.take_label, write.panel.style, write.counts,
              status]
    open_button.click(restore, viewer, viewer, queue=False).then(
        partial(history.open_session, services), [viewer, picker], opened, queue=False)
    rename.click(partial(history.rename, services), [viewer, picker, title], [picker, status], queue=False)
    delete.click(partial(history.ask_delete, services), [viewer, picker], [confirm, status], queue=False)
    really.click(partial(history.delete, services), [viewer, picker], [picker, transcript, status, confirm],
                 queue=False)
    keep.click(lambda: (gr.update(visible=False), "Kept."), None, [confirm, status], queue=False)
    for fmt, button in exports.items():
        button.click(partial(history.export, services, fmt=fmt), [viewer, picker], [exported, status], queue=False)
    share.click(_share(services), [viewer, picker], [link, status], queue=False)
    revoke.click(partial(history.revoke, services), [viewer, picker], [link, status], queue=False)
    return sessions


def _share(services: Services) -> Callable[..., tuple[str, str]]:
    """The Share callback; Gradio injects the request (for the link's host) by its annotation."""

    def share(viewer: Viewer | None, session_id: int | None, request: gr.Request) -> tuple[str, str]:
        return history.share(services, viewer, session_id, request)

    return share
