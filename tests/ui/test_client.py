"""The SSE client against scripted OpenAI streams, checked against the official ``openai`` client."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import httpx
import pytest
from openai import AsyncOpenAI

from app.client import (BUSY, FAILED, KEY_REFUSED, NO_STYLE, TOO_LONG, UNREACHABLE, ChatRequest, EngineClient,
                        EngineError, engine_base_url)
from tests.ui.fakes import ScriptedEngine

WORDS = ["Once", " upon", " a", " time", " — café ☕"]


def client_for(transport: httpx.AsyncBaseTransport) -> EngineClient:
    return EngineClient("http://engine.test/v1", api_key="k", transport=transport)


async def collect(client: EngineClient, request: ChatRequest) -> tuple[list[str], list]:
    deltas = [d async for d in client.stream_chat(request)]
    return [d.text for d in deltas if d.text], deltas


async def test_stream_matches_openai_client_and_sends_extras() -> None:
    engine = ScriptedEngine(WORDS)
    request = ChatRequest("poetry", [{"role": "user", "content": "hi"}], lora_scale=1.5, temperature=0.3,
                          top_p=0.9, max_tokens=40, seed=7)
    texts, deltas = await collect(client_for(engine.transport()), request)

    reference = AsyncOpenAI(base_url="http://engine.test/v1", api_key="k",
                            http_client=httpx.AsyncClient(transport=engine.transport()))
    stream = await reference.chat.completions.create(model="poetry", messages=request.messages, stream=True)
    expected = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]

    assert texts == expected == WORDS
    assert deltas[-1].prompt_tokens == 7 and deltas[-1].completion_tokens == len(WORDS)
    assert any(d.finish_reason == "stop" for d in deltas)
    body = engine.bodies[0]
    assert body["model"] == "poetry" and body["stream"] is True and body["lora_scale"] == 1.5
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.3, 0.9, 40, 7)


async def test_leaving_the_stream_early_closes_the_connection() -> None:
    engine = ScriptedEngine(WORDS * 20, delay=0.01)
    stream = client_for(engine.transport()).stream_chat(ChatRequest("poetry", []))
    assert (await anext(stream)).text == "Once"
    await stream.aclose()
    assert engine.open_streams == 0 and engine.closed_early == 1


@pytest.mark.parametrize(("status", "detail", "expected"), [
    (400, "This model's maximum context length is 2048 tokens", TOO_LONG.format(limit=" (2048 tokens)")),
    (400, "prompt (4476 tokens) + max_tokens (150) = 4626 exceeds max_model_len 2048",
     TOO_LONG.format(limit=" (2048 tokens)")),
    (503, "queue full: 64 waiting", BUSY),
    (429, "rate limited", BUSY),
    (401, "invalid api key sk-123", KEY_REFUSED),
    (404, "model 'gone' not found", NO_STYLE),
    (500, "RuntimeError: index out of range", FAILED),
])
async def test_http_errors_become_plain_words(status: int, detail: str, expected: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.MockTransport(
        lambda _: httpx.Response(status, json={"error": {"message": detail, "type": "x", "code": None}}))
    with caplog.at_level(logging.WARNING, logger="app.client"), pytest.raises(EngineError) as caught:
        await collect(client_for(transport), ChatRequest("poetry", []))
    assert caught.value.message == expected and caught.value.status == status
    assert detail not in caught.value.message  # internals stay out of the writer's view...
    assert detail in caplog.text  # ...and go to the server log


async def test_non_json_error_body_is_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, text="<html>Bad gateway</html>"))
    with caplog.at_level(logging.WARNING, logger="app.client"), pytest.raises(EngineError) as caught:
        await collect(client_for(transport), ChatRequest("poetry", []))
    assert caught.value.message == FAILED and "Bad gateway" in caplog.text


async def test_error_frame_inside_the_stream(caplog: pytest.LogCaptureFixture) -> None:
    frames = b'data: {"error": {"message": "generation failed: out of memory"}}\n\ndata: [DONE]\n\n'
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=frames))
    with caplog.at_level(logging.WARNING, logger="app.client"), pytest.raises(EngineError) as caught:
        await collect(client_for(transport), ChatRequest("poetry", []))
    assert caught.value.message == FAILED
    assert "generation failed: out of memory" in caplog.text


async def test_line_separators_inside_the_text_stay_text() -> None:
    """The engine writes JSON with non-ASCII as is: U+2028, U+2029 and U+0085 end a line for splitlines, not SSE."""
    words = ["a\u2028b", " c\u2029", "\x85d\r\n"]
    frames = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': w}}]}, ensure_ascii=False)}"
                     "\r\n\r\n" for w in words) + "data: [DONE]\n\n"
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=frames.encode()))
    texts, _ = await collect(client_for(transport), ChatRequest("poetry", []))
    assert texts == words


async def test_malformed_frame_is_a_plain_failure() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=b"data: {not json\n\n"))
    with pytest.raises(EngineError) as caught:
        await collect(client_for(transport), ChatRequest("poetry", []))
    assert caught.value.message == FAILED and "not json" not in caught.value.message


async def test_unreachable_engine() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(EngineError) as caught:
        await collect(client_for(httpx.MockTransport(refuse)), ChatRequest("poetry", []))
    assert caught.value.message == UNREACHABLE and "ConnectError" not in caught.value.message


def test_engine_base_url() -> None:
    assert engine_base_url(SimpleNamespace(engine_url=None, host="0.0.0.0", port=7860)) == "http://127.0.0.1:7860/v1"
    assert engine_base_url(SimpleNamespace(engine_url="http://gpu:8000/v1", host="h", port=1)) == "http://gpu:8000/v1"
