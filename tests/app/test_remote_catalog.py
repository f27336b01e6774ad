"""With ``--engine-url`` the UI lists what the remote serves, joined with local style metadata, and
sends a server that only knows adapters what the style means (system prompt, defaults), no strength."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

import app.remote_catalog as remote
from app.catalog import Catalog, CatalogEntry, StyleUsage, base_entry
from app.ui.gallery import Gallery
from db.types import utcnow

VLLM_CARDS = [  # what vLLM 0.32's /v1/models answers with --lora-modules poetry=... pirate=...
    {"id": "smollm2-135m", "object": "model", "owned_by": "vllm", "root": "/models/smollm2", "parent": None},
    {"id": "poetry", "object": "model", "owned_by": "vllm", "root": "/srv/poetry", "parent": "smollm2-135m"},
    {"id": "pirate", "object": "model", "owned_by": "vllm", "root": "/srv/pirate", "parent": "smollm2-135m"},
]


def local_catalog() -> Catalog:
    catalog = Catalog(base_entry("smollm2-135m", "smollm2-135m"))
    for name, title in (("poetry", "Poetry"), ("legal", "Legal")):
        catalog.add(CatalogEntry(name=name, kind="style", root=f"/styles/{name}", has_adapter=True,
                                 display_name=title, system_prompt=f"You write {name}.",
                                 defaults={"temperature": 0.7, "repetition_penalty": 1.1}))
    catalog.set_usage("pirate", StyleUsage(5, 10, 20, utcnow()))
    return catalog


def test_remote_models_joined_with_local_metadata() -> None:
    joined = remote.join_remote(VLLM_CARDS, local_catalog())
    assert joined.base.name == "smollm2-135m"
    assert [e.name for e in joined.styles()] == ["pirate", "poetry"]  # legal is not served remotely
    poetry = joined.get("poetry")
    assert (poetry.title, poetry.system_prompt, poetry.root) == ("Poetry", "You write poetry.", "/srv/poetry")
    assert joined.get("pirate").title == "pirate"  # no local metadata: its name
    assert [e.name for e in joined.styles("usage")] == ["pirate", "poetry"]
    gallery = Gallery(joined)
    assert gallery.lora_scale_supported is False and list(gallery.cards) == ["pirate", "poetry"]


def test_an_inkwell_remote_keeps_the_strength_control() -> None:
    cards = [{**card, "owned_by": "inkwell", "kind": "base" if card["parent"] is None else "style"}
             for card in VLLM_CARDS]
    assert Gallery(remote.join_remote(cards, local_catalog())).lora_scale_supported is True


def test_requests_carry_the_style_for_a_server_that_knows_only_adapters() -> None:
    prepare = remote.style_body(remote.join_remote(VLLM_CARDS, local_catalog()))
    body = {"model": "poetry", "messages": [{"role": "user", "content": "Sea"}], "lora_scale": 1.0,
            "temperature": 0.2}
    sent = prepare(body)
    assert sent["messages"][0] == {"role": "system", "content": "You write poetry."}
    assert sent["temperature"] == 0.2 and sent["repetition_penalty"] == 1.1  # the writer's values win
    assert "lora_scale" not in sent and body["lora_scale"] == 1.0  # the caller's body is untouched
    own = prepare({"model": "poetry", "messages": [{"role": "system", "content": "Mine."}]})
    assert [m["content"] for m in own["messages"]] == ["Mine."]
    assert prepare({"model": "unknown", "messages": []}) == {"model": "unknown", "messages": []}


def test_an_unreachable_remote_falls_back_to_the_local_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(remote.httpx, "get", refuse)
    local = local_catalog()
    settings = SimpleNamespace(engine_url="http://gpu:8000/v1", api_key=None, host="h", port=1)
    catalog, client = remote.remote_ui(settings, local, usage=SimpleNamespace(record=lambda *a: None))
    assert catalog is local and client.base_url == "http://gpu:8000/v1"


async def test_the_remote_client_sends_the_style_and_counts_finished_replies() -> None:
    from app.client import ChatRequest, EngineClient
    from tests.ui.fakes import ScriptedEngine

    engine, counted = ScriptedEngine(["Roll", "ing"]), []
    client = EngineClient("http://vllm.test/v1", transport=engine.transport(),
                          prepare=remote.style_body(remote.join_remote(VLLM_CARDS, local_catalog())),
                          on_usage=lambda *usage: counted.append(usage))
    request = ChatRequest("poetry", [{"role": "user", "content": "Sea"}], lora_scale=1.3)
    text = "".join([delta.text async for delta in client.stream_chat(request)])
    assert text == "Rolling" and counted == [("poetry", 7, 2)]
    assert engine.bodies[0]["messages"][0]["role"] == "system" and "lora_scale" not in engine.bodies[0]
