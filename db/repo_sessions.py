"""Writing sessions, scoped to their owner, and their revocable share tokens. Every change is committed.

A lookup of someone else's session behaves exactly like a lookup of a missing one (None, or
:class:`~db.repo_common.NotFoundError`), so ids cannot be probed.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import TITLE_MAX, User, WritingSession
from db.repo_common import NotFoundError, check_id, check_name, check_text, owned_session, require_owned_session
from db.types import utcnow

LIST_LIMIT_MAX = 1000
SHARE_TOKEN_BYTES = 32  # token_urlsafe(32) -> 43 characters


def create_session(s: Session, *, owner_id: int, title: str, style: str) -> WritingSession:
    """Start a writing session for ``owner_id``; NotFoundError if that user does not exist."""
    title = check_text(title, "title", TITLE_MAX)
    style = check_name(style, "style")
    if s.get(User, check_id(owner_id, "owner_id")) is None:
        raise NotFoundError(f"user {owner_id} not found")
    now = utcnow()
    session = WritingSession(owner_id=owner_id, title=title, style=style, created_at=now, updated_at=now)
    s.add(session)
    s.commit()
    return session


def list_sessions(s: Session, *, owner_id: int, limit: int = 100) -> list[WritingSession]:
    """The owner's sessions, most recently updated first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
        raise ValueError(f"limit must be an integer in [1, {LIST_LIMIT_MAX}], got {limit!r}")
    query = (
        select(WritingSession)
        .where(WritingSession.owner_id == check_id(owner_id, "owner_id"))
        .order_by(WritingSession.updated_at.desc(), WritingSession.id.desc())
        .limit(limit)
    )
    return list(s.scalars(query))


def get_session(s: Session, *, owner_id: int, session_id: int) -> WritingSession | None:
    """The session if ``owner_id`` owns it, else None (whether it exists or not)."""
    return owned_session(s, owner_id=owner_id, session_id=session_id)


def rename_session(s: Session, *, owner_id: int, session_id: int, title: str) -> WritingSession | None:
    """Give the owner's session a new title; None if it is not theirs."""
    title = check_text(title, "title", TITLE_MAX)
    session = owned_session(s, owner_id=owner_id, session_id=session_id)
    if session is None:
        return None
    session.title = title
    session.updated_at = utcnow()
    s.commit()
    return session


def delete_session(s: Session, *, owner_id: int, session_id: int) -> bool:
    """Delete the owner's session and its messages; False if it is not theirs."""
    session = owned_session(s, owner_id=owner_id, session_id=session_id)
    if session is None:
        return False
    s.delete(session)
    s.commit()
    return True


def create_share_token(s: Session, *, owner_id: int, session_id: int) -> str:
    """The session's share token, made now unless it has one; NotFoundError if it is not theirs."""
    session = require_owned_session(s, owner_id=owner_id, session_id=session_id)
    if session.share_token is None:
        session.share_token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
        s.commit()
    return session.share_token


def revoke_share_token(s: Session, *, owner_id: int, session_id: int) -> bool:
    """Invalidate the session's share link; False if it is not theirs or was not shared."""
    session = owned_session(s, owner_id=owner_id, session_id=session_id)
    if session is None or session.share_token is None:
        return False
    session.share_token = None
    s.commit()
    return True


def get_shared_session(s: Session, *, token: str) -> WritingSession | None:
    """The session this share token opens (read-only use), or None for a wrong or revoked token."""
    if not isinstance(token, str) or not token or len(token) > 64:
        return None
    return s.scalar(select(WritingSession).where(WritingSession.share_token == token))
