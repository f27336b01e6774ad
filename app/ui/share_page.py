"""The read-only permalink page of a shared session: ``GET /share/{token}``, no login needed."""

from __future__ import annotations

import asyncio
import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.ui.store import Store, Transcript

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Inkwell</title>
<style>body{{font-family:Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}
.prompt{{background:#f4f1ea;padding:.6rem 1rem;border-left:4px solid #b08d57}}
.take{{white-space:pre-wrap;line-height:1.5}} .meta{{color:#777;font-size:.85rem}}</style></head>
<body><main id="shared">{body}</main>
<p class="meta">Shared read-only from Inkwell.</p></body></html>"""


def _message_html(role: str, content: str, label: str) -> str:
    text = html.escape(content)
    if role == "user":
        return f'<section class="prompt"><p class="meta">Prompt</p><p>{text}</p></section>'
    return f'<section><p class="meta">{html.escape(label)}</p><div class="take">{text}</div></section>'


def render_transcript(transcript: Transcript) -> str:
    """The whole share page for a transcript (every piece of user text is escaped)."""
    parts = [f"<h1>{html.escape(transcript.title)}</h1>"]
    for m in transcript.messages:
        label = (m.style or "text") + ("" if m.status == "complete" else f" ({m.status})")
        parts.append(_message_html(m.role, m.content, label))
    return PAGE.format(title=html.escape(transcript.title), body="\n".join(parts))


def render_missing() -> str:
    """The page for an unknown or revoked token."""
    body = "<h1>Nothing to see here</h1><p>This share link was revoked or never existed.</p>"
    return PAGE.format(title="Not found", body=body)


def share_router(store: Store) -> APIRouter:
    """A router serving ``/share/{token}`` from ``store``."""
    router = APIRouter()

    @router.get("/share/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def shared_session(token: str) -> HTMLResponse:
        transcript = await asyncio.to_thread(store.shared, token)
        if transcript is None:
            return HTMLResponse(render_missing(), status_code=404)
        return HTMLResponse(render_transcript(transcript))

    return router
