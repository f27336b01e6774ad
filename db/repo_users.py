"""Users: create, authenticate, look up, delete (with all their data). Every change is committed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Role, User, WritingSession
from db.repo_common import check_id, check_number
from db.security import check_password_strength, hash_password, needs_rehash, normalize_username, verify_password
from db.types import parse_enum, utcnow

GUEST_RETENTION_DAYS = 7.0


def create_user(s: Session, *, username: str, password: str | None, role: Role | str = "user") -> User:
    """Create an account; ValueError on a taken username, a weak password or an unknown role.

    Users and admins need a password; guests (demo mode) must have none and can never log in.
    """
    role = parse_enum(Role, role, "role")
    name = normalize_username(username)
    if role is Role.GUEST and password is not None:
        raise ValueError("guest users have no password; pass password=None")
    if role is not Role.GUEST:
        check_password_strength(password)
    if s.scalar(select(User.id).where(User.username == name)) is not None:
        raise ValueError(f"username {name!r} is already taken")
    user = User(username=name, role=role, password_hash=hash_password(password) if password else None)
    s.add(user)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        raise ValueError(f"username {name!r} is already taken") from None
    return user


def authenticate(s: Session, *, username: str, password: str) -> User | None:
    """The user whose password this is, else None; the hash is upgraded if the hasher's cost changed."""
    user = _find_by_username(s, username)
    stored = user.password_hash if user is not None and user.role is not Role.GUEST else None
    if not verify_password(stored, password) or user is None or stored is None:
        return None
    if needs_rehash(stored):
        user.password_hash = hash_password(password)
        s.commit()
    return user


def get_user(s: Session, *, user_id: int) -> User | None:
    """The user with this id, or None."""
    return s.get(User, check_id(user_id, "user_id"))


def get_user_by_username(s: Session, *, username: str) -> User | None:
    """The user with this username (case-insensitive), or None (also for an invalid name)."""
    return _find_by_username(s, username)


def delete_user(s: Session, *, user_id: int) -> bool:
    """Delete a user with their sessions and messages; False if there was no such user."""
    user = get_user(s, user_id=user_id)
    if user is None:
        return False
    s.delete(user)
    s.commit()
    return True


def delete_inactive_guests(s: Session, *, retention_days: float = GUEST_RETENTION_DAYS) -> int:
    """Delete guest accounts idle for more than ``retention_days``, with all their data; returns how many.

    A guest's last activity is its creation or the latest update of one of its writing sessions
    (every message stored in a session updates it). Registered users are never touched.
    """
    days = check_number(retention_days, "retention_days")
    if not days:
        raise ValueError(f"retention_days must be a finite number of days > 0, got {retention_days!r}")
    cutoff = utcnow() - timedelta(days=days)
    recent = select(WritingSession.id).where(WritingSession.owner_id == User.id,
                                             WritingSession.updated_at >= cutoff)
    stale = delete(User).where(User.role == Role.GUEST, User.created_at < cutoff, ~recent.exists())
    result = s.execute(stale.execution_options(synchronize_session=False))  # sessions cascade in the database
    s.commit()
    return result.rowcount


def _find_by_username(s: Session, username: str) -> User | None:
    try:
        name = normalize_username(username)
    except ValueError:
        return None
    return s.scalar(select(User).where(User.username == name))
