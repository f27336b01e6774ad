"""Small UI parts: framing headers, sign-in, the style catalog."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.ui import auth
from app.ui.controls_panel import LENGTHS, defaults_for, preset_for
from app.ui.gallery import Controls, Gallery
from app.ui.gallery_panel import use_label
from app.ui.headers import FramingHeadersMiddleware, framing_headers
from app.ui.session_cookie import COOKIE, SessionSigner, load_secret, secret_path, session_router
from tests.ui.conftest import PASSWORD
from tests.ui.fakes import ScriptedEngine, catalog, make_services, style

SIGNER = SessionSigner(b"test secret")


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
    response = TestClient(app).get("/?embed=1&style=x")
    assert "x-frame-options" not in response.headers
    assert response.headers["content-security-policy"] == "frame-ancestors 'self' http://ok.test"


def test_embed_origins_may_frame_only_the_embed_page() -> None:
    app = FastAPI()

    @app.get("/")
    def root() -> dict:
        return {}

    app.add_middleware(FramingHeadersMiddleware, origins=["http://ok.test"])
    for path in ("/", "/?embed=0", "/?style=x"):  # the full app and its sign-in form
        response = TestClient(app).get(path)
        assert response.headers["content-security-policy"] == "frame-ancestors 'self'", path
        assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_sign_up_log_in_guest_log_out(store) -> None:
    services = make_services(ScriptedEngine([]), store, signer=SIGNER)
    viewer, signin, app, who, status, username, password, token = auth.sign_up(services, "Bob", PASSWORD)
    assert viewer.name == "bob" and signin["visible"] is False and app["visible"] is True
    assert "**bob**" in who and status.startswith("Welcome") and (username, password) == ("", "")
    assert SIGNER.verify(token) == (viewer.user_id, "bob")  # the page keeps it as the session cookie
    assert auth.sign_up(services, "bob", PASSWORD)[4] == "⚠️ Username 'bob' is already taken."
    assert auth.sign_up(services, "carol", "short")[4] == "⚠️ The password needs at least 8 characters."
    refused = auth.log_in(services, "bob", "wrong password")
    assert refused[4] == "⚠️ Wrong username or password." and refused[0] is None and refused[7] == ""
    assert auth.log_in(services, " bob ", PASSWORD)[0] == viewer
    guest = auth.as_guest(services)[0]
    assert guest.is_guest and guest.user_id != viewer.user_id
    viewer_out, signin, _, who, status, username, password, token = auth.log_out()
    assert viewer_out is None and signin["visible"] is True and (username, password, token) == ("", "", "")


def test_a_signed_cookie_brings_the_writer_back(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store, signer=SIGNER)
    good = SimpleNamespace(cookies={COOKIE: SIGNER.sign(writer.user_id, writer.name)})
    assert auth.from_cookie(services, good) == writer
    assert auth.restore(services, None, good) == writer  # a tab that lost its viewer (server restart)
    other = store.guest()
    assert auth.restore(services, other, good) == other  # a tab's own viewer wins
    forged = SessionSigner(b"another secret").sign(writer.user_id, writer.name)
    for cookies in ({}, {COOKIE: forged}, {COOKIE: "1.alice.0.x"}):
        assert auth.from_cookie(services, SimpleNamespace(cookies=cookies)) is None
    assert auth.from_cookie(make_services(ScriptedEngine([]), store), good) is None  # no signer: no cookies


def test_session_tokens_are_signed_and_expire(tmp_path) -> None:
    token = SIGNER.sign(7, "bob.smith", now=1000)
    assert SIGNER.verify(token, now=1000 + 60) == (7, "bob.smith")
    assert SIGNER.verify(token, now=1000 + SIGNER.max_age_s + 1) is None
    assert SIGNER.verify(token.replace("7.", "8.", 1), now=1001) is None  # another user id: bad signature
    assert SIGNER.verify(None) is None and SIGNER.verify("garbage") is None
    path = tmp_path / "db" / "session-secret"
    secret = load_secret(path)
    assert load_secret(path) == secret and len(secret) >= 48 and path.stat().st_mode & 0o777 == 0o600
    assert secret_path(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "session-secret"


def test_session_route_sets_only_verified_tokens() -> None:
    app = FastAPI()
    app.include_router(session_router(SIGNER))
    client = TestClient(app)
    assert client.post("/ui/session", json={"token": "1.bob.1.forged"}).status_code == 400
    response = client.post("/ui/session", json={"token": SIGNER.sign(1, "bob")})
    cookie = response.headers["set-cookie"]
    assert response.status_code == 204 and cookie.startswith(COOKIE + "=") and "HttpOnly" in cookie
    assert 'inkwell_session=""' in client.delete("/ui/session").headers["set-cookie"]


def test_gallery_defaults_samples_and_cards() -> None:
    gallery = Gallery(catalog())
    assert [c.id for c in gallery.cards.values()] == ["legal", "pirate", "poetry"]  # by display name
    assert gallery.cards["pirate"].defaults == Controls(top_p=0.8)
    assert gallery.cards["poetry"].defaults == Controls(strength=1.25, temperature=0.9, max_tokens=64)
    assert gallery.cards["legal"].sample == "The party of the first part"
    assert gallery.cards["poetry"].sample == "Roses <b>are</b> red"  # shown as a button label, never as HTML
    html = gallery.card_html("poetry")
    assert html == ('<div class="ink-card" data-style="poetry"><h3>Poetry</h3><p>Verse with a lilt.</p></div>')
    assert "&lt;b&gt;" in Gallery(catalog([style("x", "<b>X</b>", "a & b")])).card_html("x")
    with pytest.raises(ValueError, match="Unknown style 'x'; pick one of: legal, pirate, poetry"):
        gallery.card("x")
    with pytest.raises(ValueError, match="top-p must be above 0"):
        Controls.from_sliders(1, 1, 0, 10)


def test_chosen_style_shows_selected_and_presets_follow_max_tokens() -> None:
    gallery = Gallery(catalog())
    assert use_label(gallery, "poetry", "poetry") == {"__type__": "update", "value": "✓ Using Poetry",
                                                      "variant": "primary"}
    assert use_label(gallery, "pirate", "poetry")["value"] == "Use Pirate"
    assert [preset_for(tokens) for _, tokens in LENGTHS] == [label for label, _ in LENGTHS]
    assert preset_for(200) is None
    assert defaults_for(gallery, "poetry") == (1.25, 0.9, 0.95, 64)  # its own strength too


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
