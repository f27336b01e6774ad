"""What the repository modules share: the not-found error, input checks, owner-scoped lookups."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import WritingSession

T = TypeVar("T")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class NotFoundError(LookupError):
    """The row does not exist, or belongs to another user: the two are deliberately not told apart."""


def check_id(value: Any, field: str) -> int:
    """``value`` as a row id; ValueError naming ``field`` unless it is an int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer id, got {value!r}")
    return value


def check_text(
    value: Any, field: str, max_len: int | None = None, *, allow_empty: bool = False, strip: bool = True
) -> str:
    """``value`` (stripped of surrounding blanks if ``strip``); ValueError naming ``field`` if unfit."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    text = value.strip() if strip else value
    if not allow_empty and not value.strip():
        raise ValueError(f"{field} must not be empty")
    if max_len is not None and len(text) > max_len:
        raise ValueError(f"{field} is too long: {len(text)} characters, at most {max_len}")
    return text


def check_name(value: Any, field: str) -> str:
    """An identifier (style id, adapter name): 1-64 letters, digits, '_', '.', ':' or '-'."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{field} {value!r} is invalid: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def check_count(value: Any, field: str) -> int | None:
    """None, or a non-negative int (token counts)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be a non-negative integer or None, got {value!r}")
    return value


def check_number(value: Any, field: str) -> float | None:
    """None, or a finite non-negative number (timings, strengths)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{field} must be a finite number >= 0 or None, got {value!r}")
    return float(value)


def check_params(value: Any) -> dict[str, Any] | None:
    """None, or a JSON-serializable dict of sampling parameters (a plain copy of it)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"params must be a dict or None, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"params must be JSON-serializable: {exc}") from None


def owned_session(s: Session, *, owner_id: int, session_id: int) -> WritingSession | None:
    """The writing session ``session_id`` if ``owner_id`` owns it, else None."""
    query = select(WritingSession).where(
        WritingSession.id == check_id(session_id, "session_id"),
        WritingSession.owner_id == check_id(owner_id, "owner_id"),
    )
    return s.scalar(query)


def require_owned_session(s: Session, *, owner_id: int, session_id: int) -> WritingSession:
    """Like :func:`owned_session`, but raise :class:`NotFoundError` instead of returning None."""
    found = owned_session(s, owner_id=owner_id, session_id=session_id)
    if found is None:
        raise NotFoundError(f"writing session {session_id} not found")
    return found


def commit_upsert(s: Session, apply: Callable[[], T]) -> T:
    """Run ``apply`` (a get-or-create that sets fields) and commit; once more if a racing insert won."""
    try:
        row = apply()
        s.commit()
        return row
    except IntegrityError:
        s.rollback()
    row = apply()
    s.commit()
    return row
