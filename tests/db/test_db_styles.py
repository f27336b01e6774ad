"""The styles table: manifests synced (added, updated with a revision, disabled, never deleted), styles
made through the API, and usage added atomically; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from db import repository as repo
from db.models import StyleSource
from db.types import utcnow

SHA = "ab" * 32


def manifest(style_id: str = "poetry", **overrides: Any) -> dict[str, Any]:
    fields = {"id": style_id, "display_name": style_id.title(), "description": "Verse with imagery.",
              "system_prompt": "You are a poet.\n", "examples": ["one", "two", "three"],
              "defaults": {"temperature": 0.8}, "adapter_path": f"/styles/{style_id}/adapter",
              "adapter_sha256": SHA, "rank": 8, "base_model": "smollm2-135m", "base_model_sha256": SHA.upper(),
              "version": "1.0.0"}
    return {**fields, **overrides}


def sync(s: Session, *manifests: dict[str, Any]) -> repo.SyncReport:
    return repo.sync_manifest_styles(s, manifests=list(manifests))


def test_sync_adds_updates_disables_and_brings_back(s: Session) -> None:
    assert sync(s, manifest("poetry"), manifest("legal")).added == ["poetry", "legal"]
    row = repo.get_style(s, id="poetry")
    assert (row.revision, row.source, row.examples, row.defaults, row.base_model_sha256) == (
        1, StyleSource.MANIFEST, ["one", "two", "three"], {"temperature": 0.8}, SHA)
    assert sync(s, manifest("poetry"), manifest("legal")).updated == []  # unchanged: no new revision
    report = sync(s, manifest("poetry", description="Rhymed verse.", version="1.1.0"))
    assert (report.updated, report.disabled) == (["poetry"], ["legal"])
    poetry, legal = repo.get_style(s, id="poetry"), repo.get_style(s, id="legal")
    assert (poetry.revision, poetry.description, poetry.version) == (2, "Rhymed verse.", "1.1.0")
    assert legal is not None and legal.enabled is False  # kept for old sessions, not served
    assert [st.id for st in repo.list_styles(s)] == ["poetry"]
    assert sync(s, manifest("poetry", description="Rhymed verse.", version="1.1.0"), manifest("legal")).updated == ["legal"]
    assert repo.get_style(s, id="legal").enabled and repo.get_style(s, id="legal").revision == 1


def test_api_styles_are_created_edited_and_disabled(s: Session) -> None:
    fields = {k: v for k, v in manifest("noir").items() if k != "id"}
    created = repo.create_style(s, id="noir", **{**fields, "adapter_path": None, "adapter_sha256": None})
    assert (created.source, created.revision, created.adapter_path) == (StyleSource.API, 1, None)
    with pytest.raises(ValueError, match="a style named 'noir' already exists"):
        repo.create_style(s, id="noir", **fields)
    edited = repo.update_style(s, id="noir", system_prompt="Hard-boiled.", defaults={"top_p": 0.5})
    assert (edited.revision, edited.system_prompt, edited.defaults, edited.description) == (
        2, "Hard-boiled.", {"top_p": 0.5}, "Verse with imagery.")
    assert sync(s, manifest("poetry")).disabled == []  # a manifest sync leaves API styles alone
    assert repo.disable_style(s, id="noir") is True and repo.disable_style(s, id="noir") is False
    assert repo.update_style(s, id="noir", description="x") is None
    revived = repo.create_style(s, id="noir", **fields)  # a deleted API style may be made again
    assert revived.enabled and revived.revision == 3 and revived.adapter_path == "/styles/noir/adapter"


def test_a_manifest_cannot_take_over_an_api_style(s: Session) -> None:
    fields = {k: v for k, v in manifest("noir").items() if k != "id"}
    repo.create_style(s, id="noir", **fields)
    assert sync(s, manifest("noir", description="from a file")).skipped == ["noir"]
    assert repo.get_style(s, id="noir").source is StyleSource.API
    sync(s, manifest("poetry"))
    with pytest.raises(ValueError, match="a style named 'poetry' already exists"):
        repo.create_style(s, id="poetry", **fields)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rank": 0}, "rank must be a positive integer"),
        ({"base_model_sha256": "abc"}, "base_model_sha256 must be 64 hexadecimal characters"),
        ({"id": "bad id"}, "id 'bad id' is invalid"),
        ({"display_name": ""}, "display_name must not be empty"),
        ({"examples": "one"}, "examples must be a list of strings"),
        ({"defaults": {"temperature": float("nan")}}, "params must be JSON-serializable"),
    ],
)
def test_bad_manifest_fields_are_refused(s: Session, override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sync(s, manifest(**override))


def test_usage_adds_up_atomically_and_ignores_unknown_names(s: Session) -> None:
    sync(s, manifest("poetry"))
    first, later = utcnow() - timedelta(minutes=5), utcnow()
    assert repo.add_style_usage(s, id="poetry", generations=2, prompt_tokens=30, completion_tokens=70,
                                last_used_at=first)
    assert repo.add_style_usage(s, id="poetry", generations=1, prompt_tokens=5, completion_tokens=9,
                                last_used_at=later)
    assert repo.add_style_usage(s, id="base-model", generations=1, prompt_tokens=1, completion_tokens=1,
                                last_used_at=later) is False
    s.expire_all()
    row = repo.get_style(s, id="poetry")
    assert (row.generations, row.prompt_tokens, row.completion_tokens) == (3, 35, 79)
    assert abs((row.last_used_at - later).total_seconds()) < 1e-3
    with pytest.raises(ValueError, match="generations must be"):
        repo.add_style_usage(s, id="poetry", generations=-1, prompt_tokens=0, completion_tokens=0,
                             last_used_at=later)
