"""UI test fixtures: a real SQLite-backed store (cheap argon2 for speed) and a signed-up writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.ui.db_store import DbStore
from app.ui.store import Viewer
from db.base import make_engine, make_session_factory, upgrade_schema
from db.security import configure_hasher

PASSWORD = "correct horse"


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[DbStore]:
    """A migrated SQLite database behind the UI's store."""
    previous = configure_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    engine = make_engine(f"sqlite:///{tmp_path / 'ui.db'}")
    upgrade_schema(engine)
    yield DbStore(make_session_factory(engine))
    engine.dispose()
    configure_hasher(previous)


@pytest.fixture()
def writer(store: DbStore) -> Viewer:
    """A signed-up user."""
    return store.sign_up("alice", PASSWORD)
