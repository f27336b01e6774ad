"""Adapters loaded at runtime are stored in the database and served again after a restart."""

from __future__ import annotations

from pathlib import Path

import httpx

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
