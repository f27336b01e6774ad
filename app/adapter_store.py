"""Where runtime adapter registrations persist: the database when ``db`` is available, else memory."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdapterRecord:
    """A runtime adapter to restore at start."""

    name: str
    path: str


class AdapterStore(Protocol):
    """Persistence of runtime adapters (the seam between the server and ``db``)."""

    def upgrade(self) -> None: ...

    def list(self) -> list[AdapterRecord]: ...

    def register(self, *, name: str, path: str, base_model_name: str | None) -> None: ...

    def unregister(self, *, name: str) -> None: ...


class MemoryAdapterStore:
    """Keeps registrations for the life of the process only."""

    def __init__(self) -> None:
        self._records: dict[str, AdapterRecord] = {}

    def upgrade(self) -> None:
        """Nothing to migrate."""

    def list(self) -> list[AdapterRecord]:
        """Registered adapters, oldest first."""
        return list(self._records.values())

    def register(self, *, name: str, path: str, base_model_name: str | None) -> None:
        """Remember an adapter."""
        self._records[name] = AdapterRecord(name, path)

    def unregister(self, *, name: str) -> None:
        """Forget an adapter."""
        self._records.pop(name, None)


class DatabaseAdapterStore:
    """Registrations in the app database through ``db.repository``."""

    def __init__(self, base: Any, repository: Any, url: str | None) -> None:
        self._base = base
        self._repo = repository
        self._engine = base.make_engine(url)
        self._sessions = base.make_session_factory(self._engine)

    def upgrade(self) -> None:
        """Bring the schema up to date."""
        self._base.upgrade_schema(self._engine)

    def list(self) -> list[AdapterRecord]:
        """Registered adapters."""
        with self._sessions() as session:
            return [AdapterRecord(row.name, row.path) for row in self._repo.list_adapter_registrations(session)]

    def register(self, *, name: str, path: str, base_model_name: str | None) -> None:
        """Persist an adapter."""
        with self._sessions() as session:  # the repository commits
            self._repo.register_adapter(session, name=name, path=path, base_model_name=base_model_name)

    def unregister(self, *, name: str) -> None:
        """Forget an adapter."""
        with self._sessions() as session:
            self._repo.unregister_adapter(session, name=name)


def open_adapter_store(url: str | None) -> AdapterStore:
    """The database store when ``db.base``/``db.repository`` provide the API, else a memory store."""
    try:
        base = importlib.import_module("db.base")
        repository = importlib.import_module("db.repository")
    except ImportError:
        log.warning("db package not available: runtime adapters will not survive a restart")
        return MemoryAdapterStore()
    if not hasattr(repository, "register_adapter"):
        log.warning("db.repository has no adapter registry: runtime adapters will not survive a restart")
        return MemoryAdapterStore()
    return DatabaseAdapterStore(base, repository, url)
