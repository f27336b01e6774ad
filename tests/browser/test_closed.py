"""Issue 13 item 5 in Chromium: a server started with an API key is closed to strangers. The page sends
them to the sign-in page, an account needs the key, and a signed-in writer writes as usual."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import WriterServer, _chromium_or_skip
from tests.browser.helpers import PASSWORD, PROMPT, write

pytestmark = pytest.mark.browser
KEY = "closed-server-key"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _chromium_or_skip()
    server = WriterServer(tmp_path_factory.mktemp("closed"), max_tokens={"verse": 24, "pirate": 24, "legal": 24})
    server.start(api_key=KEY)
    yield server.url
    server.stop()


def test_strangers_are_sent_to_sign_in_and_only_the_key_makes_accounts(page: Any, url: str) -> None:
    assert httpx.post(f"{url}/gradio_api/upload", files={"files": ("x.bin", b"x" * 1024)}).status_code == 401
    assert httpx.get(f"{url}/config").status_code == 401
    page.goto(f"{url}/?embed=1&style=verse", wait_until="load")
    assert page.url == f"{url}/ui/login" and page.locator("#embed-generate").count() == 0
    page.locator("#username").fill("closed-writer")
    page.locator("#password").fill(PASSWORD)
    page.locator("#key").fill("a guess")
    page.locator("#sign-up").click()
    page.locator("#login-status").get_by_text("needs the server key").wait_for()
    page.locator("#password").fill(PASSWORD)
    page.locator("#key").fill(KEY)
    page.locator("#sign-up").click()
    page.locator("#who").get_by_text("closed-writer").wait_for()
    assert page.locator("#guest").count() == 0 or page.locator("#guest").is_hidden()
    page.locator("#prompt textarea").fill(PROMPT)
    assert "length limit" in write(page)
    page.locator("#log-out").click()
    page.wait_for_url(f"{url}/ui/login")
    page.locator("#username").fill("closed-writer")
    page.locator("#password").fill(PASSWORD)
    page.locator("#log-in").click()
    page.locator("#who").get_by_text("closed-writer").wait_for()
