"""Callbacks of the History tab: list, open, rename, delete, export, share and revoke sessions.

All are synchronous (Gradio runs them in a worker thread) and report problems in words.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.draft import Draft, Take
from app.ui.export import FORMATS, to_markdown, write_export
from app.ui.gallery import Gallery
from app.ui.services import Services
from app.ui.store import MessageRow, Transcript, Viewer
from app.ui.writer import text_counts, warn


def _owner(viewer: Viewer | None) -> int:
    if viewer is None:
        raise ValueError("Log in or continue as a guest to see your history.")
    return viewer.user_id


def _chosen(session_id: Any) -> int:
    if session_id in (None, ""):
        raise ValueError("Pick a session first.")
    return int(session_id)


def session_choices(services: Services, viewer: Viewer | None) -> list[tuple[str, int]]:
    """(label, id) of the viewer's sessions, newest first."""
    if viewer is None:
        return []
    rows = services.store.list_sessions(viewer.user_id)
    return [(f"{r.title} · {r.updated_at:%Y-%m-%d %H:%M}" if r.updated_at else r.title, r.id) for r in rows]


def refresh(services: Services, viewer: Viewer | None, current: Any = None) -> Any:
    """The session picker with the current list, the session ``current`` still picked if it is there."""
    choices = session_choices(services, viewer)
    return gr.update(choices=choices, value=current if any(v == current for _, v in choices) else None)


def reload_list(services: Services, viewer: Viewer | None, current: Any,
                shown: list[tuple[str, int]] | None) -> tuple[Any, list[tuple[str, int]]]:
    """The picker when the list may have changed (History opened, Refresh, a sign-in): untouched when the
    list is what the page shows already, so an open list is not re-rendered under the writer's pointer
    and their pick is kept. Returns (picker, the list now shown)."""
    choices = session_choices(services, viewer)
    if shown is not None and choices == [tuple(c) for c in shown]:
        return gr.update(), shown
    return refresh(services, viewer, current), choices


def _take(gallery: Gallery, m: MessageRow) -> Take:
    card = gallery.cards.get(m.style or "")
    at = f"{m.created_at:%Y-%m-%d %H:%M}" if m.created_at else ""
    return Take(m.content, m.style, card.name if card else (m.style or ""),
                m.lora_scale if m.lora_scale is not None else 1.0, at, m.id)


def draft_from(transcript: Transcript, session_id: int, gallery: Gallery) -> Draft:
    """Reopen a session in the writer: its last prompt, and every take since that prompt was first asked,
    each with its style, strength and time.

    Regenerate stores the prompt again with each take, so a repeated prompt keeps collecting takes."""
    prompt, takes = "", []
    for m in transcript.messages:
        if m.role == "assistant":
            takes.append(_take(gallery, m))
        elif m.content != prompt:
            prompt, takes = m.content, []
    style = takes[-1].style if takes else None
    return Draft(session_id, prompt, style, takes, len(takes) - 1)


def open_session(services: Services, viewer: Viewer | None, session_id: Any) -> tuple:
    """Show the transcript and load the session into the writer, in the style of its last take.

    Returns (transcript markdown, draft, prompt, text, take label, style, counts, status)."""
    try:
        sid = _chosen(session_id)
        transcript = services.store.transcript(_owner(viewer), sid)
    except ValueError as exc:
        return (*[gr.update()] * 7, warn(str(exc)))
    draft = draft_from(transcript, sid, services.gallery)
    style = draft.style if draft.style in services.gallery.cards else gr.update()
    return (to_markdown(transcript, services.gallery), draft, draft.prompt, draft.current(), draft.label(), style,
            text_counts(services, draft.current()), f"Opened “{transcript.title}”: it is in the Write tab too.")


def picked(session_id: Any) -> tuple[str, Any, Any, Any]:
    """A newly picked session: no share link, export or delete question left from the one before. A
    picker emptied by a deletion keeps the status that says so.

    Returns (share link, export file, confirm row, status)."""
    status = "" if session_id else gr.update()
    return "", gr.update(value=None, visible=False), gr.update(visible=False), status


def rename(services: Services, viewer: Viewer | None, session_id: Any, title: str) -> tuple[Any, str]:
    """Rename a session; returns (picker, status)."""
    try:
        if not (title or "").strip():
            raise ValueError("Type the new title first.")
        services.store.rename_session(_owner(viewer), _chosen(session_id), title.strip())
    except ValueError as exc:
        return gr.update(), warn(str(exc))
    return refresh(services, viewer, session_id), f"Renamed to “{title.strip()}”."


def ask_delete(services: Services, viewer: Viewer | None, session_id: Any) -> tuple[Any, str]:
    """First step of Delete: ask, naming the session; returns (confirm row, status)."""
    try:
        title = services.store.transcript(_owner(viewer), _chosen(session_id)).title
    except ValueError as exc:
        return gr.update(visible=False), warn(str(exc))
    return gr.update(visible=True), f"Delete “{title}” with all its texts? This can't be undone."


def delete(services: Services, viewer: Viewer | None, session_id: Any) -> tuple[Any, str, str, Any]:
    """Delete a session once confirmed; returns (picker, transcript, status, confirm row)."""
    hidden = gr.update(visible=False)
    try:
        services.store.delete_session(_owner(viewer), _chosen(session_id))
    except ValueError as exc:
        return gr.update(), gr.update(), warn(str(exc)), hidden
    return refresh(services, viewer), "", "Session deleted.", hidden


def export(services: Services, viewer: Viewer | None, session_id: Any, fmt: str) -> tuple[Any, str]:
    """Write a Markdown, text or Word export (with date, styles and settings); returns (the file box, shown
    only with a file in it, and the status)."""
    try:
        transcript = services.store.transcript(_owner(viewer), _chosen(session_id))
        path = write_export(transcript, fmt, services.gallery)
    except ValueError as exc:
        return gr.update(value=None, visible=False), warn(str(exc))
    return gr.update(value=str(path), visible=True), f"Exported “{transcript.title}” as {FORMATS[fmt][1]}."


def share_url(request: gr.Request | None, token: str) -> str:
    """The absolute permalink of a share token, on the host the writer is browsing."""
    if request is None or not request.headers.get("host"):
        return f"/share/{token}"
    scheme = request.headers.get("x-forwarded-proto", "http")
    return f"{scheme}://{request.headers['host']}/share/{token}"


def share(services: Services, viewer: Viewer | None, session_id: Any,
          request: gr.Request | None = None) -> tuple[str, str]:
    """Create a read-only permalink; returns (link, status)."""
    try:
        token = services.store.share(_owner(viewer), _chosen(session_id))
    except ValueError as exc:
        return "", warn(str(exc))
    return share_url(request, token), "Anyone with this link can read the session (not edit it)."


def revoke(services: Services, viewer: Viewer | None, session_id: Any) -> tuple[str, str]:
    """Revoke the session's permalink; returns (link, status)."""
    try:
        services.store.revoke(_owner(viewer), _chosen(session_id))
    except ValueError as exc:
        return gr.update(), warn(str(exc))
    return "", "The share link no longer works."
