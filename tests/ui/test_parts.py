"""Small UI parts: framing headers, sign-in, the style catalog."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.ui import auth
from app.ui.gallery import Controls, Gallery
from app.ui.headers import FramingHeadersMiddleware, framing_headers
from tests.ui.conftest import PASSWORD
from tests.ui.fakes import ScriptedEngine, catalog, make_services


def test_framing_headers_without_and_with_origins() -> None:
    assert framing_headers([]) == [(b"content-security-policy", b"frame-ancestors 'self'"),
                                   (b"x-frame-options", b"SAMEORIGIN")]
    assert framing_headers(["https://a.example/", "http://b:8080"]) == [
        (b"content-security-policy", b"frame-ancestors 'self' https://a.example http://b:8080")]
    for bad in ("a.example", "ftp://a.example", "https://a.example/page"):
        with pytest.raises(ValueError, match="embed origin"):
            framing_headers([bad])


def test_middleware_replaces_a_deny_header() -> None:
    app = FastAPI()

    @app.get("/")
    def root():  # noqa: ANN202 - a route with a framing header of its own
        from fastapi.responses import PlainTextResponse
        return PlainTextResponse("hi", headers={"X-Frame-Options": "DENY"})

    app.add_middleware(FramingHeadersMiddleware, origins=["http://ok.test"])
    response = TestClient(app).get("/")
    assert "x-frame-options" not in response.headers
    assert response.headers["content-security-policy"] == "frame-ancestors 'self' http://ok.test"


def test_sign_up_log_in_guest(store) -> None:
    services = make_services(ScriptedEngine([]), store)
    viewer, signin, app, who, status = auth.sign_up(services, "Bob", PASSWORD)
    assert viewer.name == "bob" and signin["visible"] is False and app["visible"] is True
    assert "**bob**" in who and status.startswith("Welcome")
    assert auth.sign_up(services, "bob", PASSWORD)[4] == "⚠️ Username 'bob' is already taken."
    assert auth.sign_up(services, "carol", "short")[4] == "⚠️ The password needs at least 8 characters."
    assert auth.log_in(services, "bob", "wrong password")[4] == "⚠️ Wrong username or password."
    assert auth.log_in(services, " bob ", PASSWORD)[0] == viewer
    guest = auth.as_guest(services)[0]
    assert guest.is_guest and guest.user_id != viewer.user_id
    assert auth.log_out()[0] is None


def test_gallery_defaults_samples_and_cards() -> None:
    gallery = Gallery(catalog())
    assert [c.id for c in gallery.cards.values()] == ["legal", "pirate", "poetry"]  # by display name
    assert gallery.cards["pirate"].defaults == Controls(top_p=0.8)
    assert gallery.cards["poetry"].defaults == Controls(temperature=0.9, max_tokens=64)
    assert gallery.cards["legal"].sample == "The party of the first part"
    html = gallery.card_html("poetry")
    assert "Roses &lt;b&gt;are&lt;/b&gt; red" in html and "<b>" not in html
    with pytest.raises(ValueError, match="Unknown style 'x'; pick one of: legal, pirate, poetry"):
        gallery.card("x")
    with pytest.raises(ValueError, match="top-p must be above 0"):
        Controls.from_sliders(1, 1, 0, 10)


def test_share_link_is_opened_at_start_and_failure_only_logs(monkeypatch, caplog) -> None:
    from gradio import networking

    from app.ui import share_link

    calls = []
    monkeypatch.setattr(networking, "setup_tunnel", lambda *a: calls.append(a) or "https://abc.gradio.live")
    app = FastAPI()
    share_link.enable_share_link(app, "0.0.0.0", 7860)
    with caplog.at_level("INFO"), TestClient(app):
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
    assert calls and calls[0][:2] == ("127.0.0.1", 7860)

    def refuse(*_: object) -> str:
        raise RuntimeError("Could not get share link from Gradio API Server.")

    monkeypatch.setattr(networking, "setup_tunnel", refuse)
    assert share_link.open_tunnel("127.0.0.1", 7860) is None
    assert "could not open a Gradio share link" in caplog.text
