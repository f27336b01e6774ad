"""Hostile but well-formed input (issue 13: D1, D4, D6, D8, D10, D12): each gets OpenAI error JSON
naming the problem, and none of it harms the server or shows its folders."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.app.test_server_errors import assert_error, post

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
COMPLETION = {"model": "tiny", "prompt": "hi", "max_tokens": 4}


@pytest.mark.parametrize(("field", "value", "words"), [
    ("temperature", 1e-38, ("temperature must be 0 (greedy) or in [0.01, 2]",)),
    ("temperature", 2.5, ("temperature", "[0.01, 2]")),
    ("repetition_penalty", 1e-38, ("repetition_penalty must be in [0.01, 10]",)),
    ("seed", 2**64, ("seed must be a 64-bit signed integer",)),
])
def test_values_that_would_overflow_are_400_naming_the_field(server, auth, field, value, words) -> None:
    for path, body in (("/v1/chat/completions", CHAT), ("/v1/completions", COMPLETION)):
        assert_error(post(server, path, {**body, field: value}, auth), 400, *words, param=field)


@pytest.mark.parametrize(("field", "literal"), [
    ("temperature", "Infinity"), ("temperature", "NaN"), ("repetition_penalty", "-Infinity"),
    ("top_p", "NaN"), ("lora_scale", "Infinity"),
])
def test_infinity_and_nan_literals_are_400(server, auth, field, literal) -> None:
    raw = json.dumps(CHAT)[:-1] + f', "{field}": {literal}}}'
    assert_error(post(server, "/v1/chat/completions", raw, auth), 400, "finite", param=field)


SURROGATE = '"\\ud800"'  # a JSON escape of a lone UTF-16 surrogate


@pytest.mark.parametrize(("path", "raw", "param"), [
    ("/v1/chat/completions", '{"model": "tiny", "messages": [{"role": "user", "content": %s}]}', "messages.0.content"),
    ("/v1/chat/completions",
     '{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text", "text": %s}]}]}',
     "messages.0.content.0.text"),
    ("/v1/chat/completions", '{"model": %s, "messages": [{"role": "user", "content": "x"}]}', "model"),
    ("/v1/completions", '{"model": "tiny", "prompt": %s}', "prompt"),
    ("/v1/completions", '{"model": "tiny", "prompt": [%s]}', "prompt.0"),
    ("/v1/completions", '{"model": "tiny", "prompt": "x", "stop": %s}', "stop"),
])
def test_a_lone_surrogate_is_400_naming_the_field(server, auth, path, raw, param) -> None:
    assert_error(post(server, path, raw % SURROGATE, auth), 400, "surrogate", "U+D800", param=param)


def test_a_body_over_the_limit_is_413_before_it_is_read(server, auth) -> None:
    big = {**COMPLETION, "prompt": "x" * (1024 * 1024 + 1)}
    error = assert_error(post(server, "/v1/completions", big, auth), 413, "1048576 bytes")
    assert error["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit counts the bytes as they arrive
        yield json.dumps(big).encode()

    streamed = httpx.post(f"{server.url}/v1/completions", content=chunks(),
                          headers={**auth, "content-type": "application/json"}, timeout=30)
    assert_error(streamed, 413, "1048576 bytes")


def test_tokenising_runs_off_the_event_loop(server, auth, monkeypatch) -> None:
    entered, release = threading.Event(), threading.Event()
    tokenizer = server.state.engine.tokenizer
    real_encode = tokenizer.encode

    def slow_encode(text: str, *args: object) -> list[int]:  # a long prompt, as slow as we like
        entered.set()
        release.wait(30)
        return real_encode(text, *args)

    monkeypatch.setattr(tokenizer, "encode", slow_encode)
    reply: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: reply.append(post(server, "/v1/completions", COMPLETION, auth)))
    worker.start()
    try:
        assert entered.wait(30)
        health = httpx.get(f"{server.url}/health", timeout=5)  # would time out with the loop blocked
        assert health.status_code == 200
    finally:
        release.set()
        worker.join(30)
    assert reply[0].status_code == 200, reply[0].text


def test_logprobs_bytes_are_each_tokens_own_bytes(server, auth) -> None:
    body = {**CHAT, "max_tokens": 16, "temperature": 1.0, "seed": 3, "logprobs": True, "top_logprobs": 5,
            "ignore_eos": True}
    resp = post(server, "/v1/chat/completions", body, auth)
    assert resp.status_code == 200, resp.text
    entries = resp.json()["choices"][0]["logprobs"]["content"]
    items = [item for entry in entries for item in (entry, *entry["top_logprobs"])]
    assert any(item["token"] == "\ufffd" for item in items)  # pieces of characters were sampled or listed
    for item in items:  # the tiny tokenizer has one token per byte (plus two special tokens)
        if item["token"].startswith("<|"):
            continue
        assert len(item["bytes"]) == 1, item
        if item["token"] != "\ufffd":
            assert bytes(item["bytes"]) == item["token"].encode()


def test_no_response_shows_a_server_path(server, auth, admin, adapter_root: Path, tmp_path: Path) -> None:
    models = httpx.get(f"{server.url}/v1/models", headers=auth).json()["data"]
    assert all(model["root"] == model["id"] for model in models)
    empty = adapter_root / "empty-adapter"
    empty.mkdir(exist_ok=True)
    replies = [post(server, "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": path}, admin)
               for path in (str(tmp_path), str(empty), str(adapter_root / "missing"))]
    for reply in replies:
        assert_error(reply, 400)
        assert str(adapter_root) not in reply.text and str(tmp_path) not in reply.text
        assert str(Path.home()) not in reply.text
