"""Generations are stored in two steps: the prompt before the model runs, the outcome after it ends."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db import repository as repo
from db.models import Message, MessageStatus

PARAMS = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "stop": ["\n\n"], "seed": None}


@pytest.fixture
def owned(s: Session) -> tuple[int, int]:
    """(owner id, session id) of a fresh writer's session."""
    user = repo.create_user(s, username="writer", password="correct horse battery")
    return user.id, repo.create_session(s, owner_id=user.id, title="Poems", style="poetry").id


def read_messages(factory: sessionmaker[Session]) -> list[tuple]:
    """The messages as another connection sees them (so: only what was committed)."""
    with factory() as other:
        query = "SELECT role, content, status, error FROM messages ORDER BY id"
        return [tuple(row) for row in other.execute(text(query))]


def start(s: Session, owned: tuple[int, int], prompt: str = "p", **overrides: object) -> tuple[Message, Message]:
    """``start_generation`` in the writer's session, with plain defaults."""
    fields = {"style": "poetry", "lora_scale": 1.0, "params": {}, **overrides}
    return repo.start_generation(s, owner_id=owned[0], session_id=owned[1], prompt=prompt, **fields)


def finish(s: Session, message_id: int, content: str, status: str, **overrides: object) -> Message:
    """``finish_generation`` with plain figures unless overridden."""
    figures = {"prompt_tokens": 1, "completion_tokens": 1, "ttft_ms": 1.0, "latency_ms": 1.0, **overrides}
    return repo.finish_generation(s, message_id=message_id, content=content, status=status, **figures)


def test_prompt_is_committed_before_generation(
    s: Session, session_factory: sessionmaker[Session], owned: tuple[int, int]
) -> None:
    owner, session_id = owned
    prompt, reply = start(s, owned, "  A poem about rain\n", lora_scale=0.8, params=PARAMS)
    assert prompt.id < reply.id and reply.status is MessageStatus.PENDING
    assert read_messages(session_factory) == [
        ("user", "  A poem about rain\n", "complete", None),
        ("assistant", "", "pending", None),
    ]
    figures = {"prompt_tokens": 12, "completion_tokens": 6, "ttft_ms": 41.5, "latency_ms": 180.0}
    finish(s, reply.id, "Rain taps the glass.", "complete", **figures)
    assert read_messages(session_factory)[1] == ("assistant", "Rain taps the glass.", "complete", None)
    with session_factory() as other:
        stored = repo.list_messages(other, owner_id=owner, session_id=session_id)[1]
    assert stored.params == PARAMS and stored.lora_scale == 0.8 and stored.style == "poetry"
    assert {name: getattr(stored, name) for name in figures} == figures
    assert stored.finished_at >= stored.created_at


@pytest.mark.parametrize(("status", "error"), [("aborted", None), ("error", "CUDA out of memory")])
def test_aborted_or_failed_generation_is_kept_as_such(
    s: Session, session_factory: sessionmaker[Session], owned: tuple[int, int], status: str, error: str | None
) -> None:
    _, reply = start(s, owned, "Go", lora_scale=None, params=None)
    finish(s, reply.id, "Half a li", status, ttft_ms=None, error=error)
    expected = [("user", "Go", "complete", None), ("assistant", "Half a li", status, error)]
    assert read_messages(session_factory) == expected
    with pytest.raises(ValueError, match=f"already finished with status '{status}'"):
        finish(s, reply.id, "more", "complete")


def test_restart_marks_unfinished_generations_aborted(
    s: Session, session_factory: sessionmaker[Session], owned: tuple[int, int]
) -> None:
    for _ in range(2):
        start(s, owned)
    with session_factory() as after_restart:
        assert repo.abort_unfinished_generations(after_restart) == 2
        assert repo.abort_unfinished_generations(after_restart) == 0
    statuses = [row[2] for row in read_messages(session_factory)]
    assert statuses == ["complete", "aborted", "complete", "aborted"]


def test_messages_are_listed_in_order_and_touch_the_session(s: Session, owned: tuple[int, int]) -> None:
    owner, session_id = owned
    before = repo.get_session(s, owner_id=owner, session_id=session_id).updated_at
    for i, role in enumerate(["system", "user", "assistant"]):
        repo.add_message(s, owner_id=owner, session_id=session_id, role=role, content=f"m{i}")
    assert [m.content for m in repo.list_messages(s, owner_id=owner, session_id=session_id)] == ["m0", "m1", "m2"]
    assert repo.get_session(s, owner_id=owner, session_id=session_id).updated_at > before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "robot"}, "role must be one of system, user, assistant; got 'robot'"),
        ({"status": "done"}, "status must be one of pending, complete, aborted, error"),
        ({"content": None}, "content must be a string"),
        ({"lora_scale": float("nan")}, "lora_scale must be a finite number"),
        ({"lora_scale": -1}, "lora_scale must be a finite number >= 0"),
        ({"params": {"stop": {1, 2}}}, "params must be JSON-serializable"),
        ({"params": [1]}, "params must be a dict"),
    ],
)
def test_bad_message_input_is_refused(s: Session, owned: tuple[int, int], fields: dict, message: str) -> None:
    owner, session_id = owned
    arguments = {"owner_id": owner, "session_id": session_id, "role": "user", "content": "x", **fields}
    with pytest.raises(ValueError, match=message):
        repo.add_message(s, **arguments)


def test_bad_finish_input_is_refused(s: Session, owned: tuple[int, int]) -> None:
    _, reply = start(s, owned)
    with pytest.raises(ValueError, match="status must be one of complete, aborted, error; got 'pending'"):
        finish(s, reply.id, "", "pending")
    with pytest.raises(ValueError, match="completion_tokens must be a non-negative integer"):
        finish(s, reply.id, "", "complete", completion_tokens=-1)
    with pytest.raises(repo.NotFoundError, match="message 99999 not found"):
        finish(s, 99999, "", "complete")
    with pytest.raises(ValueError, match="prompt must not be empty"):
        start(s, owned, " ")
    assert finish(s, reply.id, "", "complete").status is MessageStatus.COMPLETE  # still pending until now
