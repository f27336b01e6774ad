"""With the writer's app mounted at ``/`` (it catches every path the API does not take), a wrong
method or an unknown ``/v1`` path still gets OpenAI error JSON, never the UI's ``{"detail": ...}``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.app.conftest import LiveServer
from tests.app.test_server_errors import assert_error


@pytest.fixture(scope="module")
def with_ui(serve) -> Iterator[LiveServer]:
    with serve({"enable_ui": True}) as live:
        yield live


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/v1/chat/completions", "POST"),
    ("PUT", "/v1/models", "GET"),
    ("DELETE", "/v1/completions", "POST"),
    ("POST", "/health", "GET"),
    ("POST", "/metrics", "GET"),
])
def test_a_wrong_method_is_405_with_allow(with_ui, method, path, allowed) -> None:
    resp = httpx.request(method, f"{with_ui.url}{path}", timeout=10)
    error = assert_error(resp, 405, method, path)
    assert error["code"] == "method_not_allowed" and resp.headers["allow"] == allowed


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_an_unknown_v1_route_is_openai_shaped_404(with_ui, method) -> None:
    resp = httpx.request(method, f"{with_ui.url}/v1/nonexistent", timeout=10)
    assert assert_error(resp, 404, "/v1/nonexistent")["code"] == "not_found"


def test_the_ui_still_gets_its_own_paths(with_ui) -> None:
    page = httpx.get(f"{with_ui.url}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
