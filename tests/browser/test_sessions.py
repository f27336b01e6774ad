"""Defect 3: a signed session cookie keeps the writer signed in across a reload and a server restart,
and nothing on screen is blanked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import WriterServer, _chromium_or_skip
from tests.browser.helpers import PROMPT, sign_up, status, value, write

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WriterServer]:
    _chromium_or_skip()
    server = WriterServer(tmp_path_factory.mktemp("sessions"), max_tokens={"verse": 24, "pirate": 24, "legal": 24})
    server.start()
    yield server
    server.stop()


def _settle_after_restart(page: Any, timeout: float = 8) -> None:
    """Wait (a bounded time) for Gradio's own reload of a page whose server restarted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not page.evaluate("() => window.__before_restart === true"):
                page.wait_for_load_state("load")
                return
        except Exception:  # the page is navigating right now
            pass
        time.sleep(0.2)


def test_reload_and_restart_keep_the_writer_signed_in(page: Any, server: WriterServer) -> None:
    name = sign_up(page, server.url)
    page.locator("#prompt textarea").fill(PROMPT)
    write(page)
    text = value(page, "output")
    assert text
    page.reload(wait_until="load")
    page.locator("#who").get_by_text(name).wait_for()
    assert page.locator("#signin").is_hidden()
    assert value(page, "output") == text and value(page, "prompt") == PROMPT  # the latest piece is back

    page.evaluate("() => { window.__before_restart = true; }")
    server.stop()
    server.start()
    _settle_after_restart(page)  # Gradio reloads a page whose server restarted (a new app id)
    page.locator("#who").get_by_text(name).wait_for()
    assert value(page, "output") == text  # reloaded or not, nothing on screen was blanked
    final = write(page, "continue")  # the cookie is verified again
    assert "Log in" not in final and value(page, "output").startswith(text), final
    page.reload(wait_until="load")
    page.locator("#who").get_by_text(name).wait_for()


def test_a_forged_or_dropped_cookie_is_not_trusted(page: Any, server: WriterServer) -> None:
    sign_up(page, server.url)
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "inkwell_session")
    user_id, name, issued, signature = session["value"].split(".")
    forged = {**session, "value": f"{int(user_id) + 1}.{name}.{issued}.{signature}"}
    page.context.clear_cookies()
    page.context.add_cookies([forged])
    page.reload(wait_until="load")
    page.locator("#signin").wait_for(state="visible")
    page.locator("#guest").click()
    page.locator("#who").get_by_text("guest").wait_for()
    page.locator("#log-out").click()
    page.locator("#signin").wait_for(state="visible")
    assert page.locator("#username textarea").input_value() == "" and status(page, "auth-status") == "Logged out."
    page.wait_for_timeout(300)
    assert not [c for c in page.context.cookies() if c["name"] == "inkwell_session"]


def test_a_prompt_typed_but_not_generated_survives_a_reload(page: Any, server: WriterServer) -> None:
    sign_up(page, server.url)
    page.locator("#prompt textarea").fill(PROMPT)
    write(page)
    text = value(page, "output")
    page.locator("#prompt textarea").fill("")
    page.locator("#prompt textarea").press_sequentially("A note to the neighbours", delay=10)
    page.wait_for_timeout(1_000)  # the autosave runs as the writer types
    page.reload(wait_until="load")
    page.locator("#status").get_by_text("Your unsent prompt is back").wait_for()
    assert value(page, "prompt") == "A note to the neighbours" and value(page, "output") == text
    page.locator("#new-piece").click()
    page.wait_for_timeout(1_000)
    page.reload(wait_until="load")
    page.locator("#who").wait_for()
    page.wait_for_timeout(1_000)
    assert "unsent" not in status(page) and value(page, "prompt") == PROMPT  # New piece forgot it
