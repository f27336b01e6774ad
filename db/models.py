"""The tables: users, their writing sessions and messages, unsent prompts, styles (with usage), runtime adapter registrations.

Deleting a user deletes their sessions, and deleting a session deletes its messages: the foreign keys
say ``ON DELETE CASCADE`` and the ORM relationships defer to the database (``passive_deletes``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base
from db.types import UTCDateTime, string_enum, utcnow

USERNAME_MAX = 64
TITLE_MAX = 200
NAME_MAX = 64
PATH_MAX = 1024


class Role(enum.StrEnum):
    """What a user may do. Guests (the UI's demo mode) have no password and cannot log in."""

    USER = "user"
    ADMIN = "admin"
    GUEST = "guest"


class MessageRole(enum.StrEnum):
    """Who wrote a message, in chat-completion terms."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class StyleSource(enum.StrEnum):
    """Where a style row comes from: a ``style.toml`` synced at start, or the admin styles API."""

    MANIFEST = "manifest"
    API = "api"


class MessageStatus(enum.StrEnum):
    """Where a message stands: assistant replies are ``pending`` while they are generated."""

    PENDING = "pending"
    COMPLETE = "complete"
    ABORTED = "aborted"
    ERROR = "error"


class User(Base):
    """An account. ``username`` is stored lower-cased; ``password_hash`` is argon2 (None for guests)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(string_enum(Role, "user_role"), default=Role.USER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list[WritingSession]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )


class PromptDraft(Base):
    """A writer's prompt typed but not yet generated from (one per writer), kept across reloads."""

    __tablename__ = "prompt_drafts"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    prompt: Mapped[str] = mapped_column(Text, default="")
    style: Mapped[str | None] = mapped_column(String(NAME_MAX))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WritingSession(Base):
    """One draft conversation of a user in one style; a share token makes it readable by link."""

    __tablename__ = "writing_sessions"
    __table_args__ = (Index("ix_writing_sessions_owner_updated", "owner_id", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    style: Mapped[str] = mapped_column(String(NAME_MAX))
    share_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(back_populates="sessions")
    messages: Mapped[list[Message]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(Message.created_at, Message.id)",
    )


class Message(Base):
    """One turn. Assistant turns carry the generation's parameters, token counts and timings."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_session_created", "session_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("writing_sessions.id", ondelete="CASCADE"))
    role: Mapped[MessageRole] = mapped_column(string_enum(MessageRole, "message_role"))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MessageStatus] = mapped_column(
        string_enum(MessageStatus, "message_status"), default=MessageStatus.COMPLETE
    )
    style: Mapped[str | None] = mapped_column(String(NAME_MAX))
    lora_scale: Mapped[float | None] = mapped_column(Float)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[WritingSession] = relationship(back_populates="messages")


class Style(Base):
    """A writing style: prompt, examples, sampling defaults, adapter and the base it was trained on.

    Rows are never deleted, so old sessions keep their style's name: a removed manifest or a deleted
    API style only sets ``enabled`` to False. ``revision`` counts the changes of the row's content;
    ``content_sha256`` is the hash of what was last synced from the manifest (None for API styles).
    ``generations``, ``prompt_tokens``, ``completion_tokens`` and ``last_used_at`` are its usage.
    """

    __tablename__ = "styles"

    id: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX * 2))
    description: Mapped[str] = mapped_column(Text, default="")
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    examples: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    defaults: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    adapter_path: Mapped[str | None] = mapped_column(String(PATH_MAX))
    adapter_sha256: Mapped[str | None] = mapped_column(String(64))
    rank: Mapped[int | None] = mapped_column(Integer)
    base_model: Mapped[str] = mapped_column(String(255))
    base_model_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(NAME_MAX))
    enabled: Mapped[bool] = mapped_column(default=True)
    source: Mapped[StyleSource] = mapped_column(string_enum(StyleSource, "style_source"),
                                                default=StyleSource.MANIFEST, server_default="manifest")
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    generations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdapterRegistration(Base):
    """An adapter loaded at runtime through the API; the server reloads these at start."""

    __tablename__ = "adapter_registrations"

    name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    path: Mapped[str] = mapped_column(String(PATH_MAX))
    base_model_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
