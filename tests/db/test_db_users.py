"""Users: argon2 hashes, login, input checks, guests, rehash, and deleting a user with all their data."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db import repository as repo
from db import security
from db.models import Role, User

PASSWORD = "correct horse battery"


def test_password_is_stored_as_a_verifiable_argon2id_hash(s: Session) -> None:
    user = repo.create_user(s, username="Alice", password=PASSWORD)
    stored = s.execute(text("SELECT username, password_hash FROM users")).one()
    assert stored.username == "alice"
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert PasswordHasher().verify(stored.password_hash, PASSWORD)  # argon2-cffi itself, as the reference
    assert user.role is Role.USER and user.created_at.tzinfo is not None


def test_authenticate(s: Session) -> None:
    user = repo.create_user(s, username="bob", password=PASSWORD, role="admin")
    assert repo.authenticate(s, username="BOB ", password=PASSWORD).id == user.id
    assert repo.authenticate(s, username="bob", password=PASSWORD + "x") is None
    assert repo.authenticate(s, username="nobody", password=PASSWORD) is None
    assert repo.authenticate(s, username="!!", password=PASSWORD) is None
    assert repo.authenticate(s, username="bob", password=None) is None
    assert repo.get_user(s, user_id=user.id).role is Role.ADMIN
    assert repo.get_user_by_username(s, username="Bob").id == user.id


def test_guests_exist_without_a_password_and_cannot_log_in(s: Session) -> None:
    guest = repo.create_user(s, username="guest-1", password=None, role="guest")
    assert guest.password_hash is None and guest.role is Role.GUEST
    assert repo.authenticate(s, username="guest-1", password="") is None
    assert repo.authenticate(s, username="guest-1", password=PASSWORD) is None
    with pytest.raises(ValueError, match="guest users have no password"):
        repo.create_user(s, username="guest-2", password=PASSWORD, role="guest")


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("ab", PASSWORD, "user", "username 'ab' is invalid"),
        ("has space", PASSWORD, "user", "username 'has space' is invalid"),
        ("x" * 65, PASSWORD, "user", "is invalid"),
        ("carol", "short", "user", "password is too short"),
        ("carol", "aaaaaaaaaa", "user", "password is too weak"),
        ("carol", None, "user", "password must be a string"),
        ("carol", PASSWORD, "root", "role must be one of user, admin, guest; got 'root'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    s: Session, username: str, password: str | None, role: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        repo.create_user(s, username=username, password=password, role=role)
    assert s.scalar(select(func.count()).select_from(User)) == 0


def test_duplicate_username_is_refused_case_insensitively(s: Session) -> None:
    repo.create_user(s, username="dave", password=PASSWORD)
    with pytest.raises(ValueError, match="'dave' is already taken"):
        repo.create_user(s, username="DAVE", password=PASSWORD)
    assert s.scalar(select(func.count()).select_from(User)) == 1


def test_hash_is_upgraded_at_login_when_the_cost_changes(s: Session) -> None:
    user = repo.create_user(s, username="erin", password=PASSWORD)
    old_hash = user.password_hash
    stronger = PasswordHasher(time_cost=CHEAPEST.time_cost + 1, memory_cost=CHEAPEST.memory_cost, parallelism=1)
    previous = security.configure_hasher(stronger)
    try:
        assert repo.authenticate(s, username="erin", password=PASSWORD) is not None
    finally:
        security.configure_hasher(previous)
    new_hash = s.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert new_hash != old_hash and f"t={CHEAPEST.time_cost + 1}" in new_hash
    assert PasswordHasher().verify(new_hash, PASSWORD)


def test_deleting_a_user_deletes_all_their_data(s: Session) -> None:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    bob = repo.create_user(s, username="bob", password=PASSWORD)
    for owner in (alice, bob):
        session = repo.create_session(s, owner_id=owner.id, title="Draft", style="poetry")
        repo.add_message(s, owner_id=owner.id, session_id=session.id, role="user", content="hi")
        repo.start_generation(
            s, owner_id=owner.id, session_id=session.id, prompt="more", style="poetry", lora_scale=1.0, params={}
        )
    assert repo.delete_user(s, user_id=alice.id) is True
    assert repo.delete_user(s, user_id=alice.id) is False
    s.expire_all()
    rows = s.execute(
        text(
            "SELECT u.username, COUNT(DISTINCT w.id), COUNT(m.id) FROM users u "
            "LEFT JOIN writing_sessions w ON w.owner_id = u.id LEFT JOIN messages m ON m.session_id = w.id "
            "GROUP BY u.username"
        )
    ).all()
    assert [tuple(row) for row in rows] == [("bob", 1, 3)]
    assert s.execute(text("SELECT COUNT(*) FROM messages")).scalar_one() == 3
