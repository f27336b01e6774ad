"""Where runtime adapter registrations persist: the app database, through ``db.repository``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db import repository


@dataclass(frozen=True)
class AdapterRecord:
    """A runtime adapter to restore at start."""

    name: str
    path: str


class AdapterStore:
    """Registrations of adapters loaded at runtime, so the next start serves them again."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def list(self) -> list[AdapterRecord]:
        """Registered adapters."""
        with self._sessions() as session:
            return [AdapterRecord(row.name, row.path) for row in repository.list_adapter_registrations(session)]

    def register(self, *, name: str, path: str, base_model_name: str | None) -> None:
        """Persist an adapter."""
        with self._sessions() as session:  # the repository commits
            repository.register_adapter(session, name=name, path=path, base_model_name=base_model_name)

    def unregister(self, *, name: str) -> None:
        """Forget an adapter."""
        with self._sessions() as session:
            repository.unregister_adapter(session, name=name)
