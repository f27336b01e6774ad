"""A session as a Markdown or plain-text document (History's export, the share page's source)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from app.ui.store import MessageRow, Transcript

FORMATS = {"markdown": ".md", "text": ".txt"}


def _heading(message: MessageRow) -> str:
    if message.role == "user":
        return "Prompt"
    note = "" if message.status == "complete" else f", {message.status}"
    return f"{message.style or 'text'}{note}"


def to_markdown(transcript: Transcript) -> str:
    """The session as Markdown: a title, then each prompt and text under its own heading."""
    parts = [f"# {transcript.title}"]
    for m in transcript.messages:
        body = "> " + m.content.replace("\n", "\n> ") if m.role == "user" else m.content
        parts.append(f"## {_heading(m)}\n\n{body}")
    return "\n\n".join(parts) + "\n"


def to_text(transcript: Transcript) -> str:
    """The session as plain text with underlined headings."""
    parts = [transcript.title, "=" * len(transcript.title)]
    for m in transcript.messages:
        heading = _heading(m).upper() if m.role == "user" else f"[{_heading(m)}]"
        parts.append(f"\n{heading}\n{m.content}")
    return "\n".join(parts) + "\n"


def write_export(transcript: Transcript, fmt: str) -> Path:
    """Write the export to a fresh temporary file named after the title; return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", transcript.title).strip("-")[:40] or "inkwell"
    folder = Path(tempfile.mkdtemp(prefix="inkwell-export-"))
    path = folder / f"{stem}{FORMATS[fmt]}"
    path.write_text(to_markdown(transcript) if fmt == "markdown" else to_text(transcript), encoding="utf-8")
    return path
