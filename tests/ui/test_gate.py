"""Issue 13 item 5: with an API key (and no --allow-guests) every UI route needs the key or a signed-in
writer; guests and new accounts without the key are refused."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.settings import Settings
from app.ui import auth, mount
from app.ui.draft import Draft
from app.ui.embed import CLOSED, embed_take
from app.gate import LOGIN_PATH, ClosedGate
from app.ui.login_page import NEEDS_KEY
from app.ui.session_cookie import COOKIE, SessionSigner
from tests.ui.conftest import PASSWORD
from tests.ui.fakes import ScriptedEngine, make_services

KEY = "server-key"
SIGNER = SessionSigner(b"gate secret")
CLOSED_PATHS = ["/", "/config", "/gradio_api/info", "/gradio_api/upload", "/monitoring", "/docs", "/openapi.json",
                "/theme.css"]


def app_with_ui(store, api_key: str | None, guests: bool) -> tuple[TestClient, object]:
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"data": []}

    services = make_services(ScriptedEngine(["x"]), store, signer=SIGNER, guests=guests)
    settings = SimpleNamespace(host="127.0.0.1", port=7860, embed_origins=[], share=False, api_key=api_key)
    mount(app, settings, services)
    return TestClient(app), services


@pytest.fixture()
def closed(store) -> Iterator[TestClient]:
    client, _ = app_with_ui(store, KEY, guests=False)
    with client:
        yield client


def test_every_ui_route_is_closed_without_key_or_session(closed: TestClient, writer) -> None:
    for path in CLOSED_PATHS:
        for method in ("GET", "POST"):
            response = closed.request(method, path, headers={"accept": "application/json"},
                                      follow_redirects=False)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["code"] == "invalid_api_key"
    page = closed.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == LOGIN_PATH
    upload = closed.post("/gradio_api/upload", files={"files": ("big.bin", b"x" * 4096)})
    assert upload.status_code == 401
    forged = SessionSigner(b"another secret").sign(writer.user_id, writer.name)
    assert closed.get("/config", cookies={COOKIE: forged}).status_code == 401
    assert closed.get("/config", headers={"authorization": "Bearer wrong"}).status_code == 401
    # the API keeps its own guard; share pages and the sign-in routes stay reachable
    assert closed.get("/v1/models").status_code == 200
    assert closed.get("/share/nope").status_code == 404 and closed.get(LOGIN_PATH).status_code == 200


def test_the_key_or_a_signed_in_writer_opens_it(closed: TestClient, writer) -> None:
    config = closed.get("/config", headers={"authorization": f"Bearer {KEY}"})
    assert config.status_code == 200
    guest = next(c["props"] for c in config.json()["components"] if c.get("props", {}).get("elem_id") == "guest")
    assert guest["visible"] is False  # no guest button on a closed server
    cookie = SIGNER.sign(writer.user_id, writer.name)
    assert closed.get("/config", cookies={COOKIE: cookie}).status_code == 200


def test_sign_in_page_logs_in_and_creates_accounts_only_with_the_key(closed: TestClient, writer) -> None:
    form = closed.get(LOGIN_PATH).text
    assert 'name="username"' in form and 'name="password"' in form and "guest" not in form.lower()
    wrong = closed.post(LOGIN_PATH, data={"username": "alice", "password": "wrong password"}, follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text and COOKIE not in wrong.cookies
    good = closed.post(LOGIN_PATH, data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/"
    assert SIGNER.verify(good.cookies[COOKIE]) == (writer.user_id, "alice")
    keyless = {"username": "bob", "password": PASSWORD, "action": "signup", "key": "guess"}
    refused = closed.post(LOGIN_PATH, data=keyless, follow_redirects=False)
    assert refused.status_code == 401 and NEEDS_KEY in refused.text.replace("&#x27;", "'")
    made = closed.post(LOGIN_PATH, data={**keyless, "key": KEY}, follow_redirects=False)
    assert made.status_code == 303 and SIGNER.verify(made.cookies[COOKIE])[1] == "bob"


def test_allow_guests_or_no_key_leaves_it_open(store) -> None:
    for api_key, guests in ((KEY, True), (None, True)):
        client, _ = app_with_ui(store, api_key, guests)
        with client:
            assert client.get("/config").status_code == 200


async def test_guest_mode_and_embed_visitors_are_refused_when_closed(store) -> None:
    services = make_services(ScriptedEngine(["x"]), store, signer=SIGNER, guests=False)
    viewer, *_, status, _, _, token = auth.as_guest(services)
    assert viewer is None and token == "" and status == "⚠️ " + auth.NO_GUESTS
    (out,) = [o async for o in embed_take(services, None, Draft(), "A rose", "poetry")]
    assert out[0] is None and out[3] == "⚠️ " + CLOSED
    assert store.list_sessions(1) == []


def test_guests_follow_the_api_key_unless_told() -> None:
    assert Settings().guests_allowed is True
    assert Settings(api_key="k").guests_allowed is False
    assert Settings(api_key="k", allow_guests=True).guests_allowed is True
    assert Settings(allow_guests=False).guests_allowed is False


def test_docs_need_the_key_even_when_the_ui_is_open(store) -> None:
    client, _ = app_with_ui(store, KEY, guests=True)
    with client:
        for path in ("/docs", "/openapi.json", "/monitoring"):
            assert client.get(path).status_code == 401, path
        assert client.get("/openapi.json", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert client.get("/config").status_code == 200  # guests may use the UI


def test_without_the_ui_the_gate_guards_only_the_docs() -> None:
    app = FastAPI()

    @app.get("/hello")
    def hello() -> dict:
        return {"hi": 1}

    app.add_middleware(ClosedGate, api_key=KEY)
    client = TestClient(app)
    assert client.get("/hello").status_code == 200 and client.get("/openapi.json").status_code == 401
    assert client.get("/docs", headers={"x-api-key": KEY}).status_code == 200
