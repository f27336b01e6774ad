"""Soak under faults: 32 streams x 16 tokens on the base and three adapters, with one poisoned request
(its step raises, like a kernel fault), one adapter refused at load and one client that disconnects.
Every good stream completes; the engine's counters return to idle; all in bounded time."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import ADMIN_KEY, LiveServer

POISON = [200, 200, 200, 201]  # prompt token ids that make the patched step raise
STREAMS, TOKENS = 32, 16
MODELS = ["tiny", "a1", "a2", "a3"]
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def soak(serve, adapter_root: Path) -> Iterator[LiveServer]:
    modules = [{"name": f"a{i}", "path": str(adapter_root / f"a{i}")} for i in (1, 2, 3)]
    with serve({"admin_key": ADMIN_KEY, "adapter_roots": [adapter_root], "lora_modules": modules}) as live:
        yield live


@pytest.fixture()
def poisoned(soak: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    runner = soak.state.engine._engine.runner
    real_run = runner.run

    def run(chunks):  # fails once the poisoned request runs (blocks held, slot pinned, a token out)
        if any(chunk.seq.prompt_ids[:len(POISON)] == POISON and chunk.seq.output_ids for chunk in chunks):
            raise RuntimeError("poisoned kernel")
        return real_run(chunks)

    monkeypatch.setattr(runner, "run", run)
    return soak


async def stream(http: httpx.AsyncClient, body: dict, *, leave_after: int | None = None) -> dict:
    """POST a streamed completion; its text, finish reason, error and chunk count."""
    result = {"text": "", "finish": None, "error": None, "chunks": 0}
    async with http.stream("POST", "/v1/completions", json={**body, "stream": True}) as resp:
        assert resp.status_code == 200, await resp.aread()
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            result["chunks"] += 1
            if "error" in event:
                result["error"] = event["error"]["message"]
            for choice in event.get("choices", []):
                result["text"] += choice["text"]
                result["finish"] = choice["finish_reason"] or result["finish"]
            if leave_after is not None and result["chunks"] >= leave_after:
                break  # closes the connection mid-stream
    return result


def bad_adapter(adapter_root: Path) -> Path:
    folder = adapter_root / "soak-bad"
    if not folder.exists():
        shutil.copytree(adapter_root / "a4", folder)
        config = json.loads((folder / "adapter_config.json").read_text())
        (folder / "adapter_config.json").write_text(json.dumps({**config, "lora_alpha": 1e30}))
    return folder


async def soak_run(live: LiveServer, adapter_root: Path) -> tuple[list[dict], dict, dict, httpx.Response]:
    body = {"max_tokens": TOKENS, "ignore_eos": True, "temperature": 0.0}
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        good = [stream(http, {**body, "model": MODELS[i % 4], "prompt": f"stream {i}"}) for i in range(STREAMS)]
        poison = stream(http, {**body, "model": "tiny", "prompt": POISON})
        leaver = stream(http, {**body, "model": "a2", "prompt": "bye", "max_tokens": 200}, leave_after=2)
        load = http.post("/v1/load_lora_adapter", headers=HEADERS,
                         json={"lora_name": "soak-bad", "lora_path": str(bad_adapter(adapter_root))})
        *results, poisoned, left, refused = await asyncio.gather(*good, poison, leaver, load)
    return results, poisoned, left, refused


async def test_good_streams_complete_beside_a_poisoned_request_a_bad_adapter_and_a_disconnect(
        poisoned: LiveServer, adapter_root: Path) -> None:
    results, bad, left, refused = await asyncio.wait_for(soak_run(poisoned, adapter_root), timeout=240)
    assert [r["finish"] for r in results] == ["length"] * STREAMS
    assert all(r["error"] is None and r["text"] for r in results)
    assert "poisoned kernel" in bad["error"] and bad["finish"] is None
    assert left["error"] is None and left["chunks"] == 2
    assert refused.status_code == 400 and "lora_alpha" in refused.json()["error"]["message"]
    stats = poisoned.wait_idle(timeout=20)
    assert (stats["num_running"], stats["num_waiting"], stats["kv_blocks_used"], stats["num_streams"]) == (0, 0, 0, 0)
    assert "inkwell_lora_pinned_slots 0.0" in httpx.get(f"{poisoned.url}/metrics").text
    assert "soak-bad" not in [m["id"] for m in httpx.get(f"{poisoned.url}/v1/models").json()["data"]]


async def test_a_failed_request_leaves_the_counters_true_at_once(poisoned: LiveServer) -> None:
    poisoned.wait_idle()
    async with httpx.AsyncClient(base_url=poisoned.url, timeout=60) as http:
        bad = await stream(http, {"model": "a1", "prompt": POISON, "max_tokens": 8})
    assert "poisoned kernel" in bad["error"]
    stats = poisoned.wait_idle(timeout=5)  # no other request comes to refresh them
    assert (stats["num_running"], stats["num_waiting"], stats["kv_blocks_used"], stats["num_streams"]) == (0, 0, 0, 0)
    metrics = httpx.get(f"{poisoned.url}/metrics").text
    assert "inkwell_lora_pinned_slots 0.0" in metrics
    assert "inkwell_num_requests_running 0.0" in metrics and "inkwell_kv_blocks_used 0.0" in metrics
