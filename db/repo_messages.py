"""Messages of a writing session, and the two-phase record of a generation. Every change is committed.

A generation is stored in two steps so nothing is lost: :func:`start_generation` commits the writer's
prompt and a ``pending`` assistant message before the model runs; :func:`finish_generation` commits the
text and figures after it ends, as ``complete``, ``aborted`` or ``error``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Message, MessageRole, MessageStatus
from db.repo_common import (
    NotFoundError,
    check_count,
    check_id,
    check_name,
    check_number,
    check_params,
    check_text,
    owned_session,
    require_owned_session,
)
from db.types import parse_enum, utcnow

FINAL_STATUSES = (MessageStatus.COMPLETE, MessageStatus.ABORTED, MessageStatus.ERROR)
RESTART_ERROR = "the server stopped during generation"


def add_message(
    s: Session,
    *,
    owner_id: int,
    session_id: int,
    role: MessageRole | str,
    content: str,
    style: str | None = None,
    lora_scale: float | None = None,
    params: dict[str, Any] | None = None,
    status: MessageStatus | str = "complete",
) -> Message:
    """Append a message to the owner's session; NotFoundError if the session is not theirs."""
    message = _new_message(role=role, content=content, style=style, lora_scale=lora_scale, params=params, status=status)
    session = require_owned_session(s, owner_id=owner_id, session_id=session_id)
    message.session_id = session.id
    s.add(message)
    session.updated_at = message.created_at
    s.commit()
    return message


def start_generation(
    s: Session,
    *,
    owner_id: int,
    session_id: int,
    prompt: str,
    style: str,
    lora_scale: float | None,
    params: dict[str, Any] | None,
) -> tuple[Message, Message]:
    """Commit the writer's prompt and a pending assistant reply; returns (prompt, reply) messages."""
    check_text(prompt, "prompt", strip=False)
    common = {"style": style, "lora_scale": lora_scale}
    prompt_message = _new_message(role=MessageRole.USER, content=prompt, **common)
    reply = _new_message(role=MessageRole.ASSISTANT, content="", params=params, status=MessageStatus.PENDING, **common)
    reply.created_at = prompt_message.created_at  # same instant; ids keep the order
    session = require_owned_session(s, owner_id=owner_id, session_id=session_id)
    for message in (prompt_message, reply):  # added in order: the prompt gets the smaller id
        message.session_id = session.id
        s.add(message)
    session.updated_at = prompt_message.created_at
    s.commit()
    return prompt_message, reply


def finish_generation(
    s: Session,
    *,
    message_id: int,
    content: str,
    status: MessageStatus | str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    ttft_ms: float | None,
    latency_ms: float | None,
    error: str | None = None,
) -> Message:
    """Record how a pending generation ended; ValueError if it already ended, NotFoundError if unknown."""
    status = parse_enum(MessageStatus, status, "status")
    if status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of complete, aborted, error; got {status.value!r}")
    figures = _generation_figures(prompt_tokens, completion_tokens, ttft_ms, latency_ms)
    message = s.get(Message, check_id(message_id, "message_id"))
    if message is None:
        raise NotFoundError(f"message {message_id} not found")
    if message.status is not MessageStatus.PENDING:
        raise ValueError(f"message {message_id} already finished with status {message.status.value!r}")
    message.content = check_text(content, "content", allow_empty=True, strip=False)
    message.status = status
    for name, value in figures.items():
        setattr(message, name, value)
    message.error = None if error is None else check_text(error, "error", allow_empty=True)
    message.finished_at = message.session.updated_at = utcnow()
    s.commit()
    return message


def save_partial(s: Session, *, message_id: int, content: str) -> bool:
    """Store the text a pending reply has so far (a kill -9 keeps it); False once it is no longer pending."""
    message = s.get(Message, check_id(message_id, "message_id"))
    if message is None or message.status is not MessageStatus.PENDING:
        return False
    message.content = check_text(content, "content", allow_empty=True, strip=False)
    s.commit()
    return True


def _owned_reply(s: Session, owner_id: int, message_id: int) -> Message:
    message = s.get(Message, check_id(message_id, "message_id"))
    if message is None or message.role is not MessageRole.ASSISTANT \
            or owned_session(s, owner_id=owner_id, session_id=message.session_id) is None:
        raise NotFoundError(f"message {message_id} not found")
    return message


def _finished_reply(s: Session, owner_id: int, message_id: int) -> Message:
    message = _owned_reply(s, owner_id, message_id)
    if message.status is MessageStatus.PENDING:
        raise ValueError(f"message {message_id} is still being generated")
    return message


def reopen_generation(s: Session, *, owner_id: int, message_id: int, content: str) -> Message:
    """Make a finished reply pending again with ``content`` (the text a continuation extends)."""
    message = _finished_reply(s, owner_id, message_id)
    message.content = check_text(content, "content", allow_empty=True, strip=False)
    message.status, message.finished_at, message.error = MessageStatus.PENDING, None, None
    message.session.updated_at = utcnow()
    s.commit()
    return message


def edit_reply(s: Session, *, owner_id: int, message_id: int, content: str) -> Message:
    """Replace the text of one of the owner's finished replies (the writer's own edits)."""
    message = _finished_reply(s, owner_id, message_id)
    message.content = check_text(content, "content", allow_empty=True, strip=False)
    message.session.updated_at = utcnow()
    s.commit()
    return message


def delete_reply(s: Session, *, owner_id: int, message_id: int) -> bool:
    """Delete one of the owner's replies with the prompt stored with it; False if it is not theirs."""
    try:
        reply = _owned_reply(s, owner_id, message_id)
    except NotFoundError:
        return False
    prompt = s.scalar(select(Message).where(
        Message.session_id == reply.session_id, Message.role == MessageRole.USER, Message.id < reply.id,
        Message.created_at == reply.created_at).order_by(Message.id.desc()).limit(1))
    for message in (reply, prompt):
        if message is not None:
            s.delete(message)
    s.commit()
    return True


def list_messages(s: Session, *, owner_id: int, session_id: int) -> list[Message]:
    """The session's messages, oldest first; empty if the session is not the owner's."""
    if owned_session(s, owner_id=owner_id, session_id=session_id) is None:
        return []
    query = select(Message).where(Message.session_id == session_id).order_by(Message.created_at, Message.id)
    return list(s.scalars(query))


def abort_unfinished_generations(s: Session) -> int:
    """Mark every still-pending reply as aborted (call at server start); returns how many there were."""
    result = s.execute(
        update(Message)
        .where(Message.status == MessageStatus.PENDING)
        .values(status=MessageStatus.ABORTED, error=RESTART_ERROR, finished_at=utcnow())
    )
    s.commit()
    return result.rowcount


def _new_message(
    *,
    role: MessageRole | str,
    content: str,
    style: str | None = None,
    lora_scale: float | None = None,
    params: dict[str, Any] | None = None,
    status: MessageStatus | str = MessageStatus.COMPLETE,
) -> Message:
    """A checked, not yet added message stamped now."""
    return Message(
        role=parse_enum(MessageRole, role, "role"),
        content=check_text(content, "content", allow_empty=True, strip=False),
        style=None if style is None else check_name(style, "style"),
        lora_scale=check_number(lora_scale, "lora_scale"),
        params=check_params(params),
        status=parse_enum(MessageStatus, status, "status"),
        created_at=utcnow(),
    )


def _generation_figures(
    prompt_tokens: int | None, completion_tokens: int | None, ttft_ms: float | None, latency_ms: float | None
) -> dict[str, Any]:
    return {
        "prompt_tokens": check_count(prompt_tokens, "prompt_tokens"),
        "completion_tokens": check_count(completion_tokens, "completion_tokens"),
        "ttft_ms": check_number(ttft_ms, "ttft_ms"),
        "latency_ms": check_number(latency_ms, "latency_ms"),
    }
