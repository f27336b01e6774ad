"""Blends and ``--engine-url``: a vLLM / SGLang remote would ignore ``styles``, so the request is refused with
a clear 400 before anything is sent; an Inkwell remote gets the blend as is."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from test_remote_catalog import VLLM_CARDS, local_catalog

import app.remote_catalog as remote
from app.client import ChatRequest, EngineClient, EngineError

BLEND = [{"name": "poetry", "weight": 0.7}, {"name": "pirate", "weight": 0.3}]
MESSAGES = [{"role": "user", "content": "Sea"}]


def test_the_chat_body_carries_the_blend_instead_of_the_strength() -> None:
    body = ChatRequest(style="poetry", messages=MESSAGES, lora_scale=0.4, styles=BLEND).body()
    assert body["styles"] == BLEND and "lora_scale" not in body
    assert "styles" not in ChatRequest(style="poetry", messages=MESSAGES).body()


def test_a_vllm_remote_refuses_a_blend_before_sending() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    client = EngineClient("http://gpu:8000/v1", transport=transport,
                          prepare=remote.style_body(remote.join_remote(VLLM_CARDS, local_catalog())))

    async def consume() -> None:
        async for _ in client.stream_chat(ChatRequest(style="poetry", messages=MESSAGES, styles=BLEND)):
            pass

    with pytest.raises(EngineError) as caught:
        asyncio.run(consume())
    assert caught.value.status == 400 and "Style blends need an Inkwell engine" in caught.value.message
    assert sent == []
    prepare = remote.style_body(remote.join_remote(VLLM_CARDS, local_catalog()))
    with pytest.raises(EngineError):
        prepare({"model": "ghost", "messages": MESSAGES, "styles": BLEND})  # unknown there: refused too
    assert "styles" not in prepare({"model": "poetry", "messages": MESSAGES})  # single styles go on


def test_an_inkwell_remote_gets_the_blend() -> None:
    cards = [{**card, "owned_by": "inkwell", "kind": "base" if card["parent"] is None else "style"}
             for card in VLLM_CARDS]
    prepare = remote.style_body(remote.join_remote(cards, local_catalog()))
    sent = prepare({"model": "poetry", "messages": MESSAGES, "styles": BLEND})
    assert sent["styles"] == BLEND
