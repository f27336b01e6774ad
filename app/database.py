"""The app's one database: an engine and session factory shared by the API and the UI.

Built once per app; :meth:`Database.prepare` runs once at server start, before anything reads or
writes: it migrates the schema, marks replies left ``pending`` by a stopped server as ``aborted``,
and deletes guest accounts idle for longer than the retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db import repository
from db.base import make_engine, make_session_factory, upgrade_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Database:
    """The SQLAlchemy engine and the session factory every part of the app uses."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str | None) -> Database:
        """An engine for ``url`` (see ``db.base.database_url``); nothing connects until first use."""
        engine = make_engine(url)
        return cls(engine, make_session_factory(engine))

    def prepare(self, *, guest_retention_days: float) -> None:
        """Start-up housekeeping: upgrade the schema, abort unfinished replies, drop idle guests."""
        upgrade_schema(self.engine)
        with self.sessions() as s:
            aborted = repository.abort_unfinished_generations(s)
            guests = repository.delete_inactive_guests(s, retention_days=guest_retention_days)
        log.info("database ready: %d unfinished replies marked aborted, %d idle guests deleted", aborted, guests)

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()
