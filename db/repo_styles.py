"""Writing styles: synced from the manifests at start, created and edited through the admin API, and
their usage. Rows are never deleted (old sessions keep their style's name). Every change is committed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import PATH_MAX, Style, StyleSource
from db.repo_common import check_count, check_name, check_params, check_text
from db.types import utcnow

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
EDITABLE = ("display_name", "description", "system_prompt", "examples", "defaults", "adapter_path",
            "adapter_sha256", "rank", "base_model", "base_model_sha256", "version")


@dataclass
class SyncReport:
    """What a manifest sync did, by style id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # the id belongs to a style made through the API


def sync_manifest_styles(s: Session, *, manifests: Iterable[dict[str, Any]]) -> SyncReport:
    """Make the manifest rows match ``manifests`` (dicts of the ``EDITABLE`` fields plus ``id``).

    A new manifest adds a row, a changed one (content hash differs) updates it and counts a revision,
    one that came back is enabled again, and a row whose manifest is gone is disabled, never deleted.
    """
    report, seen = SyncReport(), set()
    for manifest in manifests:
        fields = _checked(manifest)
        style_id = check_name(manifest.get("id"), "id")
        seen.add(style_id)
        _sync_one(s, style_id, fields, _content_hash(fields), report)
    rows = s.scalars(select(Style).where(Style.source == StyleSource.MANIFEST, Style.enabled.is_(True)))
    for row in rows:
        if row.id not in seen:
            row.enabled, row.updated_at = False, utcnow()
            report.disabled.append(row.id)
    s.commit()
    return report


def _sync_one(s: Session, style_id: str, fields: dict[str, Any], digest: str, report: SyncReport) -> None:
    row = s.get(Style, style_id)
    if row is None:
        s.add(Style(id=style_id, source=StyleSource.MANIFEST, content_sha256=digest, revision=1, enabled=True,
                    updated_at=utcnow(), **fields))
        report.added.append(style_id)
    elif row.source is not StyleSource.MANIFEST:
        report.skipped.append(style_id)
    elif row.content_sha256 != digest:
        _apply(row, fields)
        row.content_sha256, row.enabled = digest, True
        report.updated.append(style_id)
    elif not row.enabled:
        row.enabled, row.updated_at = True, utcnow()
        report.updated.append(style_id)


def create_style(s: Session, *, id: str, **fields: Any) -> Style:  # noqa: A002  (the column's name)
    """Add a style made through the admin API (``EDITABLE`` fields); a deleted API style of that id
    comes back with the new fields. ``ValueError`` if the id is taken or a field is unfit."""
    style_id = check_name(id, "name")
    checked = _checked(fields)
    row = s.get(Style, style_id)
    if row is not None and (row.enabled or row.source is not StyleSource.API):
        raise ValueError(f"a style named {style_id!r} already exists")
    if row is None:
        row = Style(id=style_id, source=StyleSource.API, revision=0)
        s.add(row)
    _apply(row, checked)
    row.enabled = True
    s.commit()
    return row


def update_style(s: Session, *, id: str, **changes: Any) -> Style | None:  # noqa: A002
    """Change some ``EDITABLE`` fields of an enabled style (counts a revision); None if there is none.

    A manifest style edited here keeps the edit until its manifest itself changes."""
    if unknown := sorted(changes.keys() - set(EDITABLE)):
        raise ValueError(f"unknown style field(s): {', '.join(unknown)}")
    row = get_style(s, id=id)
    if row is None or not row.enabled:
        return None
    current = {name: getattr(row, name) for name in EDITABLE}
    _apply(row, _checked({**current, **changes}))
    s.commit()
    return row


def disable_style(s: Session, *, id: str) -> bool:  # noqa: A002
    """Stop offering a style (the row stays); False if there was no enabled style of that id."""
    row = get_style(s, id=id)
    if row is None or not row.enabled:
        return False
    row.enabled, row.updated_at = False, utcnow()
    s.commit()
    return True


def get_style(s: Session, *, id: str) -> Style | None:  # noqa: A002
    """The style ``id`` (enabled or not), or None."""
    return s.get(Style, id) if isinstance(id, str) else None


def list_styles(s: Session, *, enabled_only: bool = True) -> list[Style]:
    """Styles ordered by display name; only the enabled ones unless ``enabled_only`` is False."""
    query = select(Style).order_by(Style.display_name, Style.id)
    if enabled_only:
        query = query.where(Style.enabled.is_(True))
    return list(s.scalars(query))


def add_style_usage(s: Session, *, id: str, generations: int, prompt_tokens: int, completion_tokens: int,  # noqa: A002
                    last_used_at: datetime) -> bool:
    """Add finished generations and their tokens to a style's usage, atomically (several app servers
    may share the database); False if no style has that id (the base, a runtime adapter)."""
    counts = [check_count(v, name) or 0 for v, name in ((generations, "generations"),
                                                        (prompt_tokens, "prompt_tokens"),
                                                        (completion_tokens, "completion_tokens"))]
    statement = (update(Style).where(Style.id == id)
                 .values(generations=Style.generations + counts[0], prompt_tokens=Style.prompt_tokens + counts[1],
                         completion_tokens=Style.completion_tokens + counts[2], last_used_at=last_used_at))
    changed = s.execute(statement).rowcount
    s.commit()
    return changed > 0


def _apply(row: Style, fields: dict[str, Any]) -> None:
    """Set ``fields`` on ``row`` and count one revision."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.revision = (row.revision or 0) + 1
    row.updated_at = utcnow()


def _content_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _checked(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``EDITABLE`` fields of ``raw``, validated; ValueError naming the first unfit one."""
    return {
        "display_name": check_text(raw.get("display_name"), "display_name", 128),
        "description": check_text(raw.get("description", ""), "description", allow_empty=True),
        "system_prompt": check_text(raw.get("system_prompt", ""), "system_prompt", allow_empty=True, strip=False),
        "examples": _check_examples(raw.get("examples", [])),
        "defaults": check_params(raw.get("defaults") or {}),
        "adapter_path": _optional_text(raw.get("adapter_path"), "adapter_path", PATH_MAX),
        "adapter_sha256": _check_sha256(raw.get("adapter_sha256"), "adapter_sha256"),
        "rank": _check_rank(raw.get("rank")),
        "base_model": check_text(raw.get("base_model"), "base_model", 255),
        "base_model_sha256": _check_sha256(raw.get("base_model_sha256"), "base_model_sha256"),
        "version": check_text(raw.get("version"), "version", 64),
    }


def _optional_text(value: Any, field_name: str, max_len: int) -> str | None:
    return None if value in (None, "") else check_text(value, field_name, max_len)


def _check_examples(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(e, str) for e in value):
        raise ValueError(f"examples must be a list of strings, got {value!r}")
    return [check_text(e, "example", 2000) for e in value]


def _check_rank(rank: Any) -> int | None:
    if rank is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank!r}")
    return rank


def _check_sha256(value: Any, field_name: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value.lower()):
        raise ValueError(f"{field_name} must be 64 hexadecimal characters, got {value!r}")
    return value.lower()
