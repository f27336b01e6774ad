"""What the writer's app needs from storage, as plain records and one protocol.

The UI codes against ``Store``; ``app.ui.db_store.DbStore`` implements it on the database
repository, and tests use an in-memory fake. Every owner-scoped call takes the viewer's user id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class StoreError(ValueError):
    """A storage refusal to show in words (name taken, wrong password, no such session)."""


@dataclass(frozen=True)
class Viewer:
    """Who is using this browser tab."""

    user_id: int
    name: str
    role: str  # "user" | "admin" | "guest"

    @property
    def is_guest(self) -> bool:
        """True for a demo account that was never signed up."""
        return self.role == "guest"


@dataclass(frozen=True)
class SessionRow:
    """One writing session in a history list."""

    id: int
    title: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class MessageRow:
    """One message of a session: the writer's prompt or a generated text."""

    role: str  # "user" | "assistant"
    content: str
    style: str | None = None
    status: str = "complete"
    id: int | None = None
    lora_scale: float | None = None
    params: dict[str, Any] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Transcript:
    """A session's title and messages, for exports and the share page."""

    title: str
    messages: list[MessageRow] = field(default_factory=list)


@dataclass(frozen=True)
class GenerationRecord:
    """Everything stored about a finished (or stopped, or failed) generation."""

    content: str
    status: str  # "complete" | "aborted" | "error"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None


class Store(Protocol):
    """Storage operations of the writer's app (synchronous; call them off the event loop).

    Refusals raise ``StoreError`` with a message fit for the writer.
    """

    def sign_up(self, username: str, password: str) -> Viewer:
        """Create an account and return it."""

    def log_in(self, username: str, password: str) -> Viewer:
        """The account these credentials open."""

    def guest(self) -> Viewer:
        """A fresh guest account (demo mode; it can never log in again)."""

    def viewer(self, user_id: int, username: str) -> Viewer | None:
        """The account with this id and name (a signed cookie's), or None when it is gone."""

    def new_session(self, owner_id: int, title: str, style: str) -> int:
        """Start a writing session; returns its id."""

    def list_sessions(self, owner_id: int) -> list[SessionRow]:
        """The owner's sessions, most recently updated first."""

    def rename_session(self, owner_id: int, session_id: int, title: str) -> None:
        """Give one of the owner's sessions a new title."""

    def delete_session(self, owner_id: int, session_id: int) -> None:
        """Delete one of the owner's sessions with its messages."""

    def transcript(self, owner_id: int, session_id: int) -> Transcript:
        """Title and messages of one of the owner's sessions."""

    def save_unsent(self, owner_id: int, prompt: str, style: str | None) -> None:
        """Keep the prompt the writer is typing (not yet generated from); '' forgets it."""

    def unsent(self, owner_id: int) -> tuple[str, str | None] | None:
        """The writer's unsent prompt and its style, or None."""

    def start_generation(self, owner_id: int, session_id: int, prompt: str, style: str,
                         strength: float, params: dict[str, Any]) -> int:
        """Store the prompt and a pending reply (the unsent prompt is forgotten); returns the reply's id."""

    def finish_generation(self, message_id: int, record: GenerationRecord) -> None:
        """Store how a pending reply ended."""

    def continue_generation(self, owner_id: int, message_id: int, text: str) -> None:
        """Make a stored reply pending again with ``text``, the text a continuation extends."""

    def save_partial(self, message_id: int, text: str) -> None:
        """Store the text a pending reply has so far."""

    def edit_take(self, owner_id: int, message_id: int, text: str) -> None:
        """Replace a finished reply's text with the writer's edit."""

    def delete_take(self, owner_id: int, message_id: int) -> None:
        """Delete a reply and the prompt stored with it (undo of a generation)."""

    def share(self, owner_id: int, session_id: int) -> str:
        """The session's share token (made now unless it has one)."""

    def revoke(self, owner_id: int, session_id: int) -> None:
        """Invalidate the session's share token."""

    def shared(self, token: str) -> Transcript | None:
        """The transcript a share token opens, or None when it is wrong or revoked."""
