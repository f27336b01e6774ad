"""Styles and runtime adapter registrations; registrations survive a restart (a new engine, same URL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from db import repository as repo
from db.base import make_engine, make_session_factory, upgrade_schema

SHA = "ab" * 32


def style_fields(**overrides: object) -> dict:
    fields = {
        "id": "poetry",
        "display_name": "Poetry",
        "description": "Verse with imagery.",
        "system_prompt": "You are a poet.\n",
        "adapter_path": "styles/poetry/adapter",
        "rank": 8,
        "base_model": "smollm2-135m",
        "base_model_sha256": SHA,
        "version": "1",
    }
    return {**fields, **overrides}


def test_upsert_and_list_styles(s: Session) -> None:
    repo.upsert_style(s, **style_fields())
    repo.upsert_style(s, **style_fields(id="noir", display_name="Noir", enabled=False))
    repo.upsert_style(s, **style_fields(version="2", rank=16, base_model_sha256=SHA.upper()))
    assert [st.id for st in repo.list_styles(s)] == ["poetry"]
    assert [st.id for st in repo.list_styles(s, enabled_only=False)] == ["noir", "poetry"]
    row = s.execute(text("SELECT version, rank, base_model_sha256, system_prompt FROM styles WHERE id = 'poetry'"))
    assert tuple(row.one()) == ("2", 16, SHA, "You are a poet.\n")
    assert repo.get_style(s, id="noir").enabled is False and repo.get_style(s, id="nope") is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rank": 0}, "rank must be a positive integer"),
        ({"base_model_sha256": "abc"}, "base_model_sha256 must be 64 hexadecimal characters"),
        ({"id": "bad id"}, "id 'bad id' is invalid"),
        ({"enabled": "yes"}, "enabled must be True or False"),
        ({"display_name": ""}, "display_name must not be empty"),
    ],
)
def test_bad_style_is_refused(s: Session, override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        repo.upsert_style(s, **style_fields(**override))


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
