"""``mount``: the UI, the share pages and the framing headers on a FastAPI app (no browser)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.ui import mount
from app.ui.draft import Draft
from app.ui.embed import NO_PROMPT, embed_take
from app.ui.embed import NO_STYLE as EMBED_NO_STYLE
from app.ui.layout import page_mode
from tests.ui.fakes import ScriptedEngine, make_services

EMBEDDER = "http://127.0.0.1:9999"


@pytest.fixture()
def client_and_services(store):
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"data": []}

    services = make_services(ScriptedEngine(["x"]), store)
    settings = SimpleNamespace(host="127.0.0.1", port=7860, embed_origins=[EMBEDDER], share=False)
    mount(app, settings, services)
    with TestClient(app) as client:
        yield client, services


def test_ui_is_served_at_root_with_framing_headers(client_and_services) -> None:
    client, _ = client_and_services
    page = client.get("/?embed=1&style=poetry")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {EMBEDDER}"
    assert "x-frame-options" not in page.headers
    config = client.get("/config").json()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"generate", "stop", "regenerate", "continue", "output", "compare", "embed-generate",
            "session-picker", "use-poetry", "try-poetry", "sign-up", "guest", "undo", "length", "max-tokens",
            "dark-toggle", "show-markdown", "export-docx", "history-delete-yes", "blend", "blend-style-0", "blend-weight-1"} <= ids
    assert client.get("/v1/models").json() == {"data": []}  # API routes included before still win


def test_share_page_is_public_escaped_and_revocable(client_and_services, writer) -> None:
    client, services = client_and_services
    store = services.store
    sid = store.new_session(writer.user_id, "<My> poem", "poetry")
    mid = store.start_generation(writer.user_id, sid, "Write <b>bold</b>", "poetry", 1.0, {})
    from app.ui.store import GenerationRecord
    store.finish_generation(mid, GenerationRecord("Line one\nLine two", "complete"))
    token = store.share(writer.user_id, sid)
    page = client.get(f"/share/{token}")
    assert page.status_code == 200
    assert "&lt;My&gt; poem" in page.text and "Write &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "Line one\nLine two" in page.text and "<b>bold" not in page.text
    store.revoke(writer.user_id, sid)
    gone = client.get(f"/share/{token}")
    assert gone.status_code == 404 and "revoked or never existed" in gone.text


def test_page_mode_picks_embed_or_signin(store) -> None:
    gallery = make_services(ScriptedEngine([]), store).gallery
    signin, app, embed, style, heading = page_mode(gallery, {"embed": "1", "style": "pirate"})
    assert (signin["visible"], app["visible"], embed["visible"], style) == (False, False, True, "pirate")
    assert heading == "### ✒️ Pirate"
    assert page_mode(gallery, {"embed": "1", "style": "nope"})[4] == "⚠️ This writer isn't available right now."
    assert page_mode(gallery, {"embed": "1"})[3] == gallery.first()
    assert page_mode(gallery, {})[0]["visible"] is True


async def test_embed_writes_as_a_guest_in_its_fixed_style_with_its_own_words(store) -> None:
    engine = ScriptedEngine(["Roses", " bloom"])
    services = make_services(engine, store)
    outs = [o async for o in embed_take(services, None, Draft(), "A rose", "poetry")]
    viewer, draft, text, status = outs[-1]
    assert viewer.is_guest and text == "Roses bloom" and status.startswith("Done.")
    assert (engine.bodies[0]["model"], engine.bodies[0]["temperature"], engine.bodies[0]["max_tokens"]) == (
        "poetry", 0.9, 64)  # the style's own defaults
    for style, prompt, message in (("poetry", " ", NO_PROMPT), ("nope", "A rose", EMBED_NO_STYLE)):
        (out,) = [o async for o in embed_take(services, None, Draft(), prompt, style)]
        assert out[0] is None and out[3] == "⚠️ " + message and "log" not in out[3].lower()
    assert len(engine.bodies) == 1
