"""Concurrency on the live server: batching keeps greedy results, disconnects free resources,
adapters load and unload while other streams run, and a full queue answers 503."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

GREEDY = dict(temperature=0.0, max_tokens=16)
LONG = dict(temperature=0.0, max_tokens=200, extra_body={"ignore_eos": True})


async def stream_chat(aclient, model: str, content: str, **kwargs: object) -> tuple[str, str | None]:
    """Stream a chat completion; return its text and finish reason."""
    stream = await aclient.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True, **kwargs)
    text, reason = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            reason = chunk.choices[0].finish_reason or reason
    return text, reason


async def test_ten_adapters_concurrently_equal_each_alone(server, aclient) -> None:
    jobs = [(f"a{i}", "Write a line") for i in range(10)]  # same prompt: only the adapter differs
    alone = [await stream_chat(aclient, model, prompt, **GREEDY) for model, prompt in jobs]
    together = await asyncio.gather(*(stream_chat(aclient, model, prompt, **GREEDY) for model, prompt in jobs))
    assert list(together) == alone
    assert len({text for text, _ in alone}) >= 8  # the adapters really differ
    assert all(reason in ("stop", "length") for _, reason in together)
    stats = server.wait_idle()
    assert stats["num_running"] == stats["num_waiting"] == stats["kv_blocks_used"] == 0


async def test_disconnect_mid_stream_frees_the_request(server, auth) -> None:
    body = {"model": "a7", "prompt": "never ending", "max_tokens": 200, "stream": True, "ignore_eos": True}
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as http:
        async with http.stream("POST", "/v1/completions", json=body) as resp:
            assert resp.status_code == 200
            seen = 0
            async for line in resp.aiter_lines():
                seen += line.startswith("data: ")
                if seen == 3:
                    assert server.engine_stats()["num_running"] >= 1
                    break  # leaving the block closes the connection mid-stream
    stats = server.wait_idle(timeout=10)
    assert (stats["num_running"], stats["num_waiting"], stats["kv_blocks_used"], stats["num_streams"]) == (0, 0, 0, 0)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'inkwell_requests_finished_total{finish_reason="abort",model="a7"} 1.0' in metrics


async def test_load_use_unload_while_streams_run(server, aclient, admin, adapter_root) -> None:
    running = [asyncio.create_task(stream_chat(aclient, f"a{i}", "keep going", **LONG)) for i in (1, 2, 3)]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        resp = await http.post("/v1/load_lora_adapter", headers=admin,
                               json={"lora_name": "late", "lora_path": str(adapter_root / "a5")})
        assert resp.status_code == 200, resp.text
        assert resp.json()["parent"] == "tiny"
        late = await stream_chat(aclient, "late", "same weights as a5", **GREEDY)
        assert late == await stream_chat(aclient, "a5", "same weights as a5", **GREEDY)
        assert not all(task.done() for task in running)  # the load happened while they streamed
        resp = await http.post("/v1/unload_lora_adapter", headers=admin, json={"lora_name": "late"})
        assert resp.status_code == 200 and resp.json()["deleted"] is True
    models = [m.id for m in (await aclient.models.list()).data]
    assert "late" not in models
    results = await asyncio.gather(*running)
    assert [reason for _, reason in results] == ["length"] * 3


async def test_full_queue_answers_503_with_retry_after(serve) -> None:
    body = {"model": "tiny", "prompt": "hold the slot", "max_tokens": 200, "ignore_eos": True}
    with serve({"max_waiting": 0}, {"max_num_seqs": 1}) as tight:  # room for one request in flight
        async with httpx.AsyncClient(base_url=tight.url, timeout=60) as http:
            replies = await asyncio.gather(*(http.post("/v1/completions", json=body) for _ in range(6)))
        statuses = sorted(r.status_code for r in replies)
        assert 200 in statuses and 503 in statuses and set(statuses) == {200, 503}
        busy = next(r for r in replies if r.status_code == 503)
        assert int(busy.headers["retry-after"]) >= 1
        assert "capacity" in busy.json()["error"]["message"]
        assert all(r.json()["usage"]["completion_tokens"] == 200 for r in replies if r.status_code == 200)
        assert tight.wait_idle()["num_running"] == 0


@pytest.fixture(autouse=True)
def _idle_before(server) -> None:
    server.wait_idle()


async def test_disconnect_before_a_whole_response_aborts_it(server, auth, monkeypatch) -> None:
    engine = server.state.engine._engine
    real_step = engine.step

    def slow_step():  # 230 steps now take >= 2.3 s: the request cannot finish before the client leaves
        time.sleep(0.01)
        return real_step()

    monkeypatch.setattr(engine, "step", slow_step)
    body = {"model": "a8", "prompt": "never ending", "max_tokens": 230, "ignore_eos": True}
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/completions", json=body)
    stats = server.wait_idle(timeout=10)  # the abort is counted before the engine is told: idle => counted
    assert (stats["num_running"], stats["kv_blocks_used"], stats["num_streams"]) == (0, 0, 0)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'inkwell_requests_finished_total{finish_reason="abort",model="a8"} 1.0' in metrics
