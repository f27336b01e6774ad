"""Runtime adapter registrations; they survive a restart (a new engine, same URL)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from db import repository as repo
from db.base import make_engine, make_session_factory, upgrade_schema


def test_register_update_unregister_adapters(s: Session) -> None:
    repo.register_adapter(s, name="pirate", path="/adapters/pirate")
    repo.register_adapter(s, name="legal", path="/adapters/legal", base_model_name="smollm2-135m")
    repo.register_adapter(s, name="pirate", path="/adapters/pirate-v2")  # an upsert, not a duplicate
    listed = [(r.name, r.path, r.base_model_name) for r in repo.list_adapter_registrations(s)]
    assert listed == [("pirate", "/adapters/pirate-v2", None), ("legal", "/adapters/legal", "smollm2-135m")]
    assert repo.unregister_adapter(s, name="pirate") is True
    assert repo.unregister_adapter(s, name="pirate") is False
    assert [r.name for r in repo.list_adapter_registrations(s)] == ["legal"]
    with pytest.raises(ValueError, match="path must not be empty"):
        repo.register_adapter(s, name="x", path="")


def test_restart_restores_registered_adapters(db_url: str) -> None:
    first = make_engine(db_url)
    upgrade_schema(first)
    with make_session_factory(first)() as s:
        repo.register_adapter(s, name="pirate", path="/adapters/pirate", base_model_name="smollm2-135m")
        repo.register_adapter(s, name="legal", path="/adapters/legal")
        repo.unregister_adapter(s, name="legal")
    first.dispose()

    restarted = make_engine(db_url)
    upgrade_schema(restarted)  # the server upgrades at every start: a no-op now
    with make_session_factory(restarted)() as s:
        restored = [(r.name, r.path, r.base_model_name) for r in repo.list_adapter_registrations(s)]
    restarted.dispose()
    assert restored == [("pirate", "/adapters/pirate", "smollm2-135m")]
