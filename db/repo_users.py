"""Users: create, authenticate, look up, delete (with all their data). Every change is committed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Role, User
from db.repo_common import check_id
from db.security import check_password_strength, hash_password, needs_rehash, normalize_username, verify_password
from db.types import parse_enum


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


def _find_by_username(s: Session, username: str) -> User | None:
    try:
        name = normalize_username(username)
    except ValueError:
        return None
    return s.scalar(select(User).where(User.username == name))
