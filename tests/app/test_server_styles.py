"""Styles in the database as the running server uses them: manifests synced at start (versioned, a
removed one disabled), styles made through the admin API served at once and after a restart, and
per-style usage recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from db import repository as repo
from db.base import make_engine, make_session_factory
from tests.app.conftest import write_style

ADMIN = {"Authorization": "Bearer styles-admin"}


def styles_row(url: str, style_id: str) -> Any:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            return repo.get_style(s, id=style_id)
    finally:
        engine.dispose()


def served(url: str) -> list[str]:
    return [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=30).json()["data"]]


def complete(url: str, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 6,
            "temperature": 0.0, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)


@pytest.fixture()
def setup(tmp_path: Path, adapter_root: Path) -> dict[str, Any]:
    styles = tmp_path / "styles"
    write_style(styles, "verse", adapter_root / "a0", {"temperature": 0.0, "max_tokens": 5}, display_name="Verse")
    write_style(styles, "prose", "", {"max_tokens": 5}, display_name="Prose")
    return {"database_url": f"sqlite:///{tmp_path / 'inkwell.db'}", "styles_dir": styles,
            "admin_key": "styles-admin", "adapter_roots": [adapter_root]}


def test_manifests_are_synced_versioned_and_disabled_never_deleted(serve, setup: dict[str, Any]) -> None:
    url = setup["database_url"]
    with serve(setup) as first:
        assert {"verse", "prose"} <= set(served(first.url))
    row = styles_row(url, "verse")
    assert (row.revision, row.enabled, row.display_name, row.examples) == (1, True, "Verse", ["one", "two", "three"])
    assert row.adapter_sha256 and len(row.adapter_sha256) == 64 and row.defaults == {"temperature": 0.0, "max_tokens": 5}
    write_style(setup["styles_dir"], "verse", Path(row.adapter_path), {"temperature": 0.0, "max_tokens": 5},
                display_name="Verse", description="Now rhymed.")
    (setup["styles_dir"] / "prose" / "style.toml").unlink()
    with serve(setup) as second:
        names = served(second.url)
        assert "verse" in names and "prose" not in names
        assert complete(second.url, "prose").status_code == 404
    verse, prose = styles_row(url, "verse"), styles_row(url, "prose")
    assert (verse.revision, verse.description) == (2, "Now rhymed.")
    assert prose is not None and prose.enabled is False


def test_admin_styles_are_served_at_once_and_after_a_restart(serve, setup: dict[str, Any],
                                                             adapter_root: Path) -> None:
    body = {"name": "noir", "display_name": "Noir", "description": "Rain and regret.",
            "system_prompt": "Answer like a detective.", "defaults": {"temperature": 0.0, "max_tokens": 4},
            "adapter": str(adapter_root / "a3"), "examples": ["A case."]}
    with serve(setup) as first:
        base_text = complete(first.url, "tiny").json()["choices"][0]["message"]["content"]
        created = httpx.post(f"{first.url}/v1/styles", json=body, headers=ADMIN, timeout=30)
        assert created.status_code == 200, created.text
        assert created.json()["display_name"] == "Noir" and "/" not in str(created.json())  # no server paths
        noir = complete(first.url, "noir")
        assert noir.status_code == 200, noir.text
        patched = httpx.patch(f"{first.url}/v1/styles/noir", json={"description": "Rain."}, headers=ADMIN)
        assert patched.status_code == 200 and patched.json()["description"] == "Rain."
        before = noir.json()["choices"][0]["message"]["content"]
    assert before != base_text
    row = styles_row(setup["database_url"], "noir")
    assert (row.source, row.revision, row.description, row.rank) == ("api", 2, "Rain.", 4)
    with serve(setup) as second:
        again = complete(second.url, "noir")
        assert again.status_code == 200 and again.json()["choices"][0]["message"]["content"] == before
        listed = httpx.get(f"{second.url}/v1/styles", params={"order": "usage"}).json()["data"]
        assert listed[0]["id"] == "noir" and listed[0]["usage"]["generations"] == 2
        deleted = httpx.delete(f"{second.url}/v1/styles/noir", headers=ADMIN)
        assert deleted.status_code == 200 and "noir" not in served(second.url)
        refused = httpx.delete(f"{second.url}/v1/styles/verse", headers=ADMIN)
        assert refused.status_code == 400 and "manifest" in refused.json()["error"]["message"]
    assert styles_row(setup["database_url"], "noir").enabled is False


def test_a_styles_default_strength_applies_unless_the_request_sends_one(serve, setup: dict[str, Any],
                                                                        adapter_root: Path) -> None:
    body = {"name": "faint", "system_prompt": "Answer briefly.", "adapter": str(adapter_root / "a3"),
            "defaults": {"temperature": 0.0, "lora_scale": 0.0}}
    with serve(setup) as live:
        assert httpx.post(f"{live.url}/v1/styles", json=body, headers=ADMIN, timeout=30).status_code == 200
        text = {scale: complete(live.url, "faint", **({} if scale is None else {"lora_scale": scale}))
                .json()["choices"][0]["message"]["content"] for scale in (None, 0.0, 1.0)}
        listed = {s["id"]: s for s in httpx.get(f"{live.url}/v1/styles").json()["data"]}
    assert text[None] == text[0.0] != text[1.0]  # the default 0 is the plain base; the request's 1 the adapter
    assert listed["faint"]["defaults"]["lora_scale"] == 0.0
    assert styles_row(setup["database_url"], "faint").defaults["lora_scale"] == 0.0


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"name": "x", "adapter": "/etc"}, 400, "outside the adapter roots"),
    ({"name": "x", "defaults": {"lora_scale": 2.5}}, 400, "lora_scale must be a number in [0, 2], got 2.5"),
    ({"name": "x", "defaults": {"temprature": 1}}, 400, "unknown sampling key(s) in [defaults]: temprature"),
    ({"name": "verse"}, 400, "already served"),
    ({"name": "tiny"}, 400, "already served"),
    ({"name": "x", "colour": "red"}, 400, "colour"),
])
def test_bad_styles_are_refused_in_words(serve, setup: dict[str, Any], body: dict, status: int, words: str) -> None:
    with serve(setup) as live:
        response = httpx.post(f"{live.url}/v1/styles", json=body, headers=ADMIN, timeout=30)
        assert response.status_code == status and words in response.json()["error"]["message"]
        assert "x" not in served(live.url)
        no_key = httpx.post(f"{live.url}/v1/styles", json={"name": "y"}, timeout=30)
        assert no_key.status_code == 401


def test_usage_is_counted_per_style_and_stored(serve, setup: dict[str, Any]) -> None:
    with serve(setup) as live:
        by_name = httpx.get(f"{live.url}/v1/styles").json()["data"]
        assert [s["id"] for s in by_name] == ["prose", "verse"]  # by display name
        usages = [complete(live.url, "verse").json()["usage"] for _ in range(2)]
        assert complete(live.url, "prose").status_code == 200
        assert complete(live.url, "tiny").status_code == 200  # the base: not a style, not stored
        by_usage = httpx.get(f"{live.url}/v1/styles", params={"order": "usage"}).json()["data"]
        assert [s["id"] for s in by_usage] == ["verse", "prose"]
        metrics = httpx.get(f"{live.url}/metrics").text  # the adapter pool's figures, computed for the scrape
        assert "inkwell_lora_registered_adapters 1.0" in metrics and "inkwell_adapter_slot_loads_total" in metrics
    verse, prose = styles_row(setup["database_url"], "verse"), styles_row(setup["database_url"], "prose")
    assert (verse.generations, prose.generations) == (2, 1)
    assert verse.completion_tokens == sum(u["completion_tokens"] for u in usages)
    assert verse.prompt_tokens == sum(u["prompt_tokens"] for u in usages) and verse.last_used_at is not None
