"""Ownership: user A gets nothing of user B's, by listing or by guessing ids; share tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from db import repository as repo
from db.models import User, WritingSession

PASSWORD = "correct horse battery"


@dataclass
class TwoWriters:
    alice: User
    bob: User
    bobs_session: WritingSession


@pytest.fixture
def writers(s: Session) -> TwoWriters:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    bob = repo.create_user(s, username="bob", password=PASSWORD)
    repo.create_session(s, owner_id=alice.id, title="Alice's", style="poetry")
    bobs = repo.create_session(s, owner_id=bob.id, title="Bob's secret", style="noir")
    repo.add_message(s, owner_id=bob.id, session_id=bobs.id, role="user", content="Bob's words")
    return TwoWriters(alice, bob, bobs)


def test_listing_shows_only_the_owners_sessions(s: Session, writers: TwoWriters) -> None:
    assert [w.title for w in repo.list_sessions(s, owner_id=writers.alice.id)] == ["Alice's"]
    assert [w.title for w in repo.list_sessions(s, owner_id=writers.bob.id)] == ["Bob's secret"]


def test_guessing_ids_reveals_nothing(s: Session, writers: TwoWriters) -> None:
    alice_id = writers.alice.id
    highest = s.execute(text("SELECT MAX(id) FROM writing_sessions")).scalar_one()
    alices = {w.id for w in repo.list_sessions(s, owner_id=alice_id)}
    for guess in range(-1, highest + 5):
        found = repo.get_session(s, owner_id=alice_id, session_id=guess)
        assert found is None or found.id in alices
        if guess not in alices:
            assert repo.list_messages(s, owner_id=alice_id, session_id=guess) == []


def test_changes_to_someone_elses_session_are_refused(s: Session, writers: TwoWriters) -> None:
    alice, bobs = writers.alice.id, writers.bobs_session.id
    assert repo.rename_session(s, owner_id=alice, session_id=bobs, title="mine now") is None
    assert repo.delete_session(s, owner_id=alice, session_id=bobs) is False
    assert repo.revoke_share_token(s, owner_id=alice, session_id=bobs) is False
    with pytest.raises(repo.NotFoundError):
        repo.add_message(s, owner_id=alice, session_id=bobs, role="user", content="intrusion")
    with pytest.raises(repo.NotFoundError):
        repo.start_generation(s, owner_id=alice, session_id=bobs, prompt="x", style="noir", lora_scale=1.0, params={})
    with pytest.raises(repo.NotFoundError):
        repo.create_share_token(s, owner_id=alice, session_id=bobs)
    s.expire_all()
    row = s.execute(text("SELECT title, share_token FROM writing_sessions WHERE id = :i"), {"i": bobs}).one()
    assert tuple(row) == ("Bob's secret", None)
    assert s.execute(text("SELECT content FROM messages")).scalars().all() == ["Bob's words"]


def test_owner_can_rename_list_and_delete(s: Session, writers: TwoWriters) -> None:
    bob, bobs = writers.bob.id, writers.bobs_session.id
    newer = repo.create_session(s, owner_id=bob, title="Newer", style="noir")
    assert [w.id for w in repo.list_sessions(s, owner_id=bob)] == [newer.id, bobs]
    assert repo.rename_session(s, owner_id=bob, session_id=bobs, title="  Renamed  ").title == "Renamed"
    assert [w.id for w in repo.list_sessions(s, owner_id=bob)] == [bobs, newer.id]  # updated first
    assert [w.id for w in repo.list_sessions(s, owner_id=bob, limit=1)] == [bobs]
    assert repo.delete_session(s, owner_id=bob, session_id=bobs) is True
    assert s.execute(text("SELECT COUNT(*) FROM messages")).scalar_one() == 0  # messages went with it


def test_share_tokens_valid_revoked_wrong(s: Session, writers: TwoWriters) -> None:
    bob, bobs = writers.bob.id, writers.bobs_session.id
    token = repo.create_share_token(s, owner_id=bob, session_id=bobs)
    assert len(token) >= 40
    assert repo.create_share_token(s, owner_id=bob, session_id=bobs) == token  # one link per session
    shared = repo.get_shared_session(s, token=token)
    assert shared.id == bobs and [m.content for m in shared.messages] == ["Bob's words"]
    for wrong in ("", token[:-1], token + "x", token.upper(), "x" * 500):
        assert repo.get_shared_session(s, token=wrong) is None
    assert repo.revoke_share_token(s, owner_id=bob, session_id=bobs) is True
    assert repo.get_shared_session(s, token=token) is None
    renewed = repo.create_share_token(s, owner_id=bob, session_id=bobs)
    assert renewed != token and repo.get_shared_session(s, token=renewed).id == bobs
    assert repo.get_shared_session(s, token=token) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "   ", "title must not be empty"),
        ("title", "t" * 201, "title is too long"),
        ("style", "no spaces!", "style 'no spaces!' is invalid"),
        ("owner_id", "1", "owner_id must be an integer"),
    ],
)
def test_bad_session_input_is_refused(s: Session, writers: TwoWriters, field: str, value: str, message: str) -> None:
    fields = {"owner_id": writers.alice.id, "title": "ok", "style": "poetry", field: value}
    with pytest.raises(ValueError, match=message):
        repo.create_session(s, **fields)


def test_session_for_a_missing_user_is_refused(s: Session) -> None:
    with pytest.raises(repo.NotFoundError, match="user 999 not found"):
        repo.create_session(s, owner_id=999, title="x", style="poetry")
