"""Adapters loaded at runtime are stored in the database and served again after a restart; bad ones never are."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from app.catalog_store import CatalogStore
from app.database import Database

ADMIN = {"Authorization": "Bearer persist-admin"}


def completion(url: str, model: str) -> str:
    body = {"model": model, "prompt": "same prompt", "max_tokens": 8, "temperature": 0.0}
    resp = httpx.post(f"{url}/v1/completions", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["choices"][0]["text"]


def test_runtime_adapters_survive_a_restart(serve, adapter_root: Path, tmp_path: Path) -> None:
    settings = dict(admin_key="persist-admin", adapter_roots=[adapter_root],
                    database_url=f"sqlite:///{tmp_path / 'inkwell.db'}")
    with serve(settings) as first:
        for name, folder in (("kept", "a8"), ("dropped", "a9")):
            body = {"lora_name": name, "lora_path": str(adapter_root / folder)}
            assert httpx.post(f"{first.url}/v1/load_lora_adapter", json=body, headers=ADMIN).status_code == 200
        unload = httpx.post(f"{first.url}/v1/unload_lora_adapter", json={"lora_name": "dropped"}, headers=ADMIN)
        assert unload.status_code == 200
        before = completion(first.url, "kept")
    with serve(settings) as second:
        served = [m["id"] for m in httpx.get(f"{second.url}/v1/models").json()["data"]]
        assert "kept" in served and "dropped" not in served
        assert completion(second.url, "kept") == before
        assert completion(second.url, "kept") != completion(second.url, "tiny")


def bad_copy(adapter_root: Path, name: str, **config: object) -> Path:
    """A copy of adapter a7 with ``config`` laid over its adapter_config.json."""
    folder = adapter_root / name
    if not folder.exists():
        shutil.copytree(adapter_root / "a7", folder)
    original = json.loads((adapter_root / "a7" / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**original, **config}))
    return folder


def test_a_bad_adapter_is_refused_at_load_and_never_restored(serve, adapter_root: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inkwell.db'}"
    settings = dict(admin_key="persist-admin", adapter_roots=[adapter_root], database_url=url)
    huge, text = bad_copy(adapter_root, "huge-alpha", lora_alpha=1e30), bad_copy(adapter_root, "text-alpha",
                                                                                   lora_alpha="16")
    with serve(settings) as first:
        for name, folder, words in (("huge", huge, "scaling of 2.5e+29"), ("text", text, "got '16'")):
            resp = httpx.post(f"{first.url}/v1/load_lora_adapter", headers=ADMIN,
                              json={"lora_name": name, "lora_path": str(folder)})
            assert resp.status_code == 400 and words in resp.json()["error"]["message"], resp.text
            assert resp.json()["error"]["param"] == "lora_path"
    database = Database.open(url)  # registrations an older server stored without these checks
    for name, folder in (("old-huge", huge), ("old-text", text)):
        CatalogStore(database.sessions).register_adapter(name=name, path=str(folder), base_model_name="tiny")
    database.close()
    with serve(settings) as second:
        served = [m["id"] for m in httpx.get(f"{second.url}/v1/models").json()["data"]]
        assert not {"huge", "text", "old-huge", "old-text"} & set(served)
        assert completion(second.url, "tiny")  # and the server works
