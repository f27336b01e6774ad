"""Guest accounts idle past the retention are deleted with their data; everyone else is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import repository as repo
from db.models import Message, User, WritingSession
from db.types import utcnow

PASSWORD = "correct horse battery"


def make_user(s: Session, name: str, *, age_days: float, guest: bool = True) -> User:
    """A user created ``age_days`` ago."""
    user = repo.create_user(s, username=name, password=None if guest else PASSWORD,
                            role="guest" if guest else "user")
    user.created_at = utcnow() - timedelta(days=age_days)
    s.commit()
    return user


def add_session(s: Session, user: User, *, idle_days: float) -> WritingSession:
    """A session of ``user`` with a finished generation, last updated ``idle_days`` ago."""
    session = repo.create_session(s, owner_id=user.id, title="draft", style="poetry")
    _, reply = repo.start_generation(s, owner_id=user.id, session_id=session.id, prompt="Write",
                                     style="poetry", lora_scale=1.0, params=None)
    repo.finish_generation(s, message_id=reply.id, content="Text", status="complete", prompt_tokens=1,
                           completion_tokens=1, ttft_ms=1.0, latency_ms=2.0)
    session.updated_at = utcnow() - timedelta(days=idle_days)
    s.commit()
    return session


def usernames(s: Session) -> set[str]:
    return set(s.scalars(select(User.username)))


def test_idle_guests_are_deleted_with_their_sessions_and_messages(s: Session) -> None:
    idle = make_user(s, "guest-idle", age_days=30)
    add_session(s, idle, idle_days=8)
    make_user(s, "guest-new", age_days=1)
    active = make_user(s, "guest-active", age_days=30)
    add_session(s, active, idle_days=2)
    member = make_user(s, "member", age_days=300, guest=False)
    add_session(s, member, idle_days=300)

    assert repo.delete_inactive_guests(s) == 1
    assert usernames(s) == {"guest-new", "guest-active", "member"}
    owners = set(s.scalars(select(WritingSession.owner_id)))
    assert idle.id not in owners and {active.id, member.id} <= owners
    assert s.scalar(select(func.count()).select_from(Message)) == 4  # two per remaining session
    assert repo.delete_inactive_guests(s) == 0


def test_retention_is_configurable(s: Session) -> None:
    make_user(s, "guest-a", age_days=8)
    make_user(s, "guest-b", age_days=3)
    assert repo.delete_inactive_guests(s, retention_days=10) == 0
    assert repo.delete_inactive_guests(s, retention_days=2.5) == 2
    assert usernames(s) == set()


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "7", None, True])
def test_bad_retention_is_refused(s: Session, bad: object) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        repo.delete_inactive_guests(s, retention_days=bad)
