"""A session as a Markdown, plain-text or Word (.docx) document, dated, each text under a heading
that names its style and settings."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from app.ui.gallery import Gallery
from app.ui.store import MessageRow, Transcript

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters a .docx can't hold
FORMATS = {"markdown": (".md", "Markdown"), "text": (".txt", "plain text"), "docx": (".docx", "Word (.docx)")}
EXPORTS_DIR = "inkwell-exports"  # under the system temp folder: one folder per export, pruned after KEEP_S
KEEP_S = 3600.0  # Gradio copies a returned file into its own cache at once; an hour is ample


def exported_on(now: datetime | None = None) -> str:
    """The date line of an export."""
    return f"Exported from Inkwell on {(now or datetime.now(timezone.utc)):%Y-%m-%d %H:%M} UTC"


def heading(message: MessageRow, gallery: Gallery | None = None) -> str:
    """A message's heading: "Prompt", or the style, strength, sampling settings, time and status of a text."""
    if message.role == "user":
        return "Prompt"
    card = gallery.cards.get(message.style or "") if gallery else None
    parts = [card.name if card else (message.style or "text")]
    if message.lora_scale is not None:
        parts.append(f"strength {message.lora_scale:g}")
    params = message.params or {}
    for key, name in (("temperature", "temperature"), ("top_p", "top-p"), ("max_tokens", "max tokens")):
        if key in params:
            parts.append(f"{name} {params[key]:g}")
    if message.created_at:
        parts.append(f"{message.created_at:%Y-%m-%d %H:%M}")
    if message.status != "complete":
        parts.append(message.status)
    return " · ".join(parts)


_LINE_BREAK = re.compile(r"(?<![\n ]{2})(?<!\n)\n(?!\n)")


def hard_breaks(text: str) -> str:
    """Markdown that keeps a text's single line breaks (a poem's lines), which Markdown would join."""
    return _LINE_BREAK.sub("  \n", text)


def to_markdown(transcript: Transcript, gallery: Gallery | None = None, now: datetime | None = None) -> str:
    """The session as Markdown: a title and date, then each prompt and text under its own heading (line
    breaks kept)."""
    parts = [f"# {transcript.title}", f"*{exported_on(now)}*"]
    for m in transcript.messages:
        text = hard_breaks(m.content)
        body = "> " + text.replace("\n", "\n> ") if m.role == "user" else text
        parts.append(f"## {heading(m, gallery)}\n\n{body}")
    return "\n\n".join(parts) + "\n"


def to_text(transcript: Transcript, gallery: Gallery | None = None, now: datetime | None = None) -> str:
    """The session as plain text with underlined headings."""
    parts = [transcript.title, "=" * len(transcript.title), exported_on(now)]
    for m in transcript.messages:
        title = heading(m, gallery)
        parts.append(f"\n{title.upper() if m.role == 'user' else f'[{title}]'}\n{m.content}")
    return "\n".join(parts) + "\n"


def write_docx(transcript: Transcript, path: Path, gallery: Gallery | None = None,
               now: datetime | None = None) -> None:
    """The session as a Word document (python-docx): title, date, then headed prompts and texts (control
    characters, which Word files can't hold, left out)."""
    from docx import Document

    document = Document()
    document.core_properties.title = transcript.title
    document.add_heading(transcript.title, level=0)
    document.add_paragraph().add_run(exported_on(now)).italic = True
    for m in transcript.messages:
        document.add_heading(heading(m, gallery), level=2)
        for paragraph in _NOT_XML.sub("", m.content).split("\n"):
            document.add_paragraph(paragraph, style="Quote" if m.role == "user" else None)
    document.save(str(path))


def write_export(transcript: Transcript, fmt: str, gallery: Gallery | None = None) -> Path:
    """Write the export to a fresh temporary file named after the title; return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", transcript.title).strip("-")[:40] or "inkwell"
    path = export_folder() / f"{stem}{FORMATS[fmt][0]}"
    if fmt == "docx":
        write_docx(transcript, path, gallery)
    else:
        write = to_markdown if fmt == "markdown" else to_text
        path.write_text(write(transcript, gallery), encoding="utf-8")
    return path


def export_folder(root: Path | None = None, now: float | None = None) -> Path:
    """A fresh private folder for one export, under ``root`` (default: ``EXPORTS_DIR`` in the system temp
    folder), after removing the exports there older than ``KEEP_S``: a long-running server keeps no more
    than an hour of them. A root this user does not own (or that is not a plain folder) is not used."""
    root = root or Path(tempfile.gettempdir()) / EXPORTS_DIR
    root.mkdir(mode=0o700, exist_ok=True)
    if root.is_symlink() or not root.is_dir() or root.stat().st_uid != os.getuid():
        return Path(tempfile.mkdtemp(prefix="inkwell-export-"))
    cutoff = (now if now is not None else time.time()) - KEEP_S
    for folder in root.iterdir():
        try:
            if folder.lstat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # another export pruned it first
            pass
    return Path(tempfile.mkdtemp(dir=root))
