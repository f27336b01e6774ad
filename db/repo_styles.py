"""Writing styles, as the style manifests describe them. Every change is committed."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import PATH_MAX, Style
from db.repo_common import check_name, check_text, commit_upsert
from db.types import utcnow

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


def upsert_style(
    s: Session,
    *,
    id: str,  # noqa: A002  (the column's name)
    display_name: str,
    description: str,
    system_prompt: str,
    adapter_path: str,
    rank: int,
    base_model: str,
    base_model_sha256: str,
    version: str,
    enabled: bool = True,
) -> Style:
    """Create or update the style ``id`` with these fields."""
    fields = {
        "display_name": check_text(display_name, "display_name", 128),
        "description": check_text(description, "description", allow_empty=True),
        "system_prompt": check_text(system_prompt, "system_prompt", allow_empty=True, strip=False),
        "adapter_path": check_text(adapter_path, "adapter_path", PATH_MAX),
        "rank": _check_rank(rank),
        "base_model": check_text(base_model, "base_model", 255),
        "base_model_sha256": _check_sha256(base_model_sha256),
        "version": check_text(version, "version", 64),
        "enabled": _check_bool(enabled, "enabled"),
    }
    style_id = check_name(id, "id")

    def apply() -> Style:
        style = s.get(Style, style_id) or Style(id=style_id)
        for name, value in fields.items():
            setattr(style, name, value)
        style.updated_at = utcnow()
        s.add(style)
        return style

    return commit_upsert(s, apply)


def get_style(s: Session, *, id: str) -> Style | None:  # noqa: A002
    """The style ``id``, or None."""
    return s.get(Style, id) if isinstance(id, str) else None


def list_styles(s: Session, *, enabled_only: bool = True) -> list[Style]:
    """Styles ordered by display name; only the enabled ones unless ``enabled_only`` is False."""
    query = select(Style).order_by(Style.display_name, Style.id)
    if enabled_only:
        query = query.where(Style.enabled.is_(True))
    return list(s.scalars(query))


def _check_rank(rank: object) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank!r}")
    return rank


def _check_sha256(value: object) -> str:
    if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value.lower()):
        raise ValueError(f"base_model_sha256 must be 64 hexadecimal characters, got {value!r}")
    return value.lower()


def _check_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be True or False, got {value!r}")
    return value
