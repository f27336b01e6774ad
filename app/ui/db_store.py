"""``Store`` on the database repository: one short-lived SQLAlchemy session per call."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.ui.store import GenerationRecord, MessageRow, SessionRow, StoreError, Transcript, Viewer
from db import repository as repo
from db.models import Message, User, WritingSession


def _viewer(user: User) -> Viewer:
    return Viewer(user.id, user.username, getattr(user.role, "value", str(user.role)))


def _transcript(session: WritingSession, messages: list[Message]) -> Transcript:
    rows = [MessageRow(m.role.value, m.content, m.style, m.status.value, m.id, m.lora_scale, m.params, m.created_at)
            for m in messages if m.role.value in ("user", "assistant")]
    return Transcript(session.title, rows)


class DbStore:
    """The writer's app storage in the Inkwell database (implements ``app.ui.store.Store``)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session whose refusals (ValueError, not found) become StoreError in words."""
        with self._factory() as s:
            try:
                yield s
            except repo.NotFoundError as exc:
                raise StoreError("That session no longer exists.") from exc
            except StoreError:
                raise
            except ValueError as exc:
                raise StoreError(str(exc).capitalize() + ".") from exc

    def sign_up(self, username: str, password: str) -> Viewer:
        with self._session() as s:
            return _viewer(repo.create_user(s, username=username, password=password, role="user"))

    def log_in(self, username: str, password: str) -> Viewer:
        with self._session() as s:
            user = repo.authenticate(s, username=username, password=password)
            if user is None:
                raise StoreError("Wrong username or password.")
            return _viewer(user)

    def guest(self) -> Viewer:
        with self._session() as s:
            name = f"guest-{secrets.token_hex(4)}"
            return _viewer(repo.create_user(s, username=name, password=None, role="guest"))

    def viewer(self, user_id: int, username: str) -> Viewer | None:
        with self._session() as s:
            user = repo.get_user(s, user_id=user_id)
            return _viewer(user) if user is not None and user.username == username else None

    def new_session(self, owner_id: int, title: str, style: str) -> int:
        with self._session() as s:
            return repo.create_session(s, owner_id=owner_id, title=title, style=style).id

    def list_sessions(self, owner_id: int) -> list[SessionRow]:
        with self._session() as s:
            return [SessionRow(w.id, w.title, w.updated_at) for w in repo.list_sessions(s, owner_id=owner_id)]

    def rename_session(self, owner_id: int, session_id: int, title: str) -> None:
        with self._session() as s:
            if repo.rename_session(s, owner_id=owner_id, session_id=session_id, title=title) is None:
                raise StoreError("That session no longer exists.")

    def delete_session(self, owner_id: int, session_id: int) -> None:
        with self._session() as s:
            if not repo.delete_session(s, owner_id=owner_id, session_id=session_id):
                raise StoreError("That session no longer exists.")

    def transcript(self, owner_id: int, session_id: int) -> Transcript:
        with self._session() as s:
            session = repo.get_session(s, owner_id=owner_id, session_id=session_id)
            if session is None:
                raise StoreError("That session no longer exists.")
            return _transcript(session, repo.list_messages(s, owner_id=owner_id, session_id=session_id))

    def save_unsent(self, owner_id: int, prompt: str, style: str | None) -> None:
        with self._session() as s:
            repo.save_draft(s, owner_id=owner_id, prompt=prompt, style=style)

    def unsent(self, owner_id: int) -> tuple[str, str | None] | None:
        with self._session() as s:
            draft = repo.get_draft(s, owner_id=owner_id)
            return None if draft is None else (draft.prompt, draft.style)

    def start_generation(self, owner_id: int, session_id: int, prompt: str, style: str,
                         strength: float, params: dict[str, Any]) -> int:
        with self._session() as s:
            _, reply = repo.start_generation(s, owner_id=owner_id, session_id=session_id, prompt=prompt,
                                             style=style, lora_scale=strength, params=params)
            repo.clear_draft(s, owner_id=owner_id)
            return reply.id

    def finish_generation(self, message_id: int, record: GenerationRecord) -> None:
        with self._session() as s:
            repo.finish_generation(s, message_id=message_id, content=record.content, status=record.status,
                                   prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
                                   ttft_ms=record.ttft_ms, latency_ms=record.latency_ms)

    def continue_generation(self, owner_id: int, message_id: int, text: str) -> None:
        with self._session() as s:
            repo.reopen_generation(s, owner_id=owner_id, message_id=message_id, content=text)

    def save_partial(self, message_id: int, text: str) -> None:
        with self._session() as s:
            repo.save_partial(s, message_id=message_id, content=text)

    def edit_take(self, owner_id: int, message_id: int, text: str) -> None:
        with self._session() as s:
            repo.edit_reply(s, owner_id=owner_id, message_id=message_id, content=text)

    def delete_take(self, owner_id: int, message_id: int) -> None:
        with self._session() as s:
            if not repo.delete_reply(s, owner_id=owner_id, message_id=message_id):
                raise StoreError("That text no longer exists.")

    def share(self, owner_id: int, session_id: int) -> str:
        with self._session() as s:
            return repo.create_share_token(s, owner_id=owner_id, session_id=session_id)

    def revoke(self, owner_id: int, session_id: int) -> None:
        with self._session() as s:
            if not repo.revoke_share_token(s, owner_id=owner_id, session_id=session_id):
                raise StoreError("That session has no share link to revoke.")

    def shared(self, token: str) -> Transcript | None:
        with self._session() as s:
            session = repo.get_shared_session(s, token=token)
            return None if session is None else _transcript(session, list(session.messages))
