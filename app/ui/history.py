"""Callbacks of the History tab: list, open, rename, delete, export, share and revoke sessions.

All are synchronous (Gradio runs them in a worker thread) and report problems in words.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.draft import Draft
from app.ui.export import to_markdown, write_export
from app.ui.services import Services
from app.ui.store import Transcript, Viewer
from app.ui.writer import warn


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


def refresh(services: Services, viewer: Viewer | None) -> Any:
    """The session picker with the current list."""
    return gr.update(choices=session_choices(services, viewer), value=None)


def draft_from(transcript: Transcript, session_id: int) -> Draft:
    """Reopen a session in the writer: its last prompt, and every take since that prompt was first asked.

    Regenerate stores the prompt again with each take, so a repeated prompt keeps collecting takes."""
    prompt, takes = "", []
    for m in transcript.messages:
        if m.role == "assistant":
            takes.append(m)
        elif m.content != prompt:
            prompt, takes = m.content, []
    style = takes[-1].style if takes else None
    return Draft(session_id, prompt, style, [m.content for m in takes], len(takes) - 1)


def open_session(services: Services, viewer: Viewer | None, session_id: Any) -> tuple:
    """Show the transcript and load the session into the writer.

    Returns (transcript markdown, draft, prompt, text, alternative label, status)."""
    try:
        sid = _chosen(session_id)
        transcript = services.store.transcript(_owner(viewer), sid)
    except ValueError as exc:
        return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), warn(str(exc))
    draft = draft_from(transcript, sid)
    return (to_markdown(transcript), draft, draft.prompt, draft.current(), draft.label(),
            f"Opened “{transcript.title}”: it is in the Write tab too.")


def rename(services: Services, viewer: Viewer | None, session_id: Any, title: str) -> tuple[Any, str]:
    """Rename a session; returns (picker, status)."""
    try:
        if not (title or "").strip():
            raise ValueError("Type the new title first.")
        services.store.rename_session(_owner(viewer), _chosen(session_id), title.strip())
    except ValueError as exc:
        return gr.update(), warn(str(exc))
    return refresh(services, viewer), f"Renamed to “{title.strip()}”."


def delete(services: Services, viewer: Viewer | None, session_id: Any) -> tuple[Any, str, str]:
    """Delete a session; returns (picker, transcript, status)."""
    try:
        services.store.delete_session(_owner(viewer), _chosen(session_id))
    except ValueError as exc:
        return gr.update(), gr.update(), warn(str(exc))
    return refresh(services, viewer), "", "Session deleted."


def export(services: Services, viewer: Viewer | None, session_id: Any, fmt: str) -> tuple[Any, str]:
    """Write a Markdown or text export; returns (file, status)."""
    try:
        transcript = services.store.transcript(_owner(viewer), _chosen(session_id))
        path = write_export(transcript, fmt)
    except ValueError as exc:
        return None, warn(str(exc))
    return str(path), f"Exported “{transcript.title}” as {fmt}."


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
