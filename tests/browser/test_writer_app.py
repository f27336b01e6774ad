"""The writer's app in Chromium: sign-in, streaming, Stop, Compare, share links, embedding."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import App, shot
from tests.browser.helpers import PASSWORD, PROMPT, open_in_history, pick, value, wait_finished, watch
from tests.browser.helpers import sign_up as _sign_up

pytestmark = pytest.mark.browser
LONG = 1800  # max tokens of the request Stop ends (the context is 2048)
FINISHED = re.compile(r"Done\.|Stopped at the length limit")


def sign_up(page: Any, app: App) -> str:
    """Open the app and create a fresh account; returns its name."""
    return _sign_up(page, app.url)


RECORD = """ids => {
  window.__seen = [];
  const boxes = ids.map(id => document.querySelector('#' + id + ' textarea'));
  window.__recorder = setInterval(() => window.__seen.push(boxes.map(b => b.value.length)), 5);
}"""
RECORDED = "() => { clearInterval(window.__recorder); return window.__seen; }"


def record(page: Any, *elem_ids: str) -> None:
    """Start sampling the text lengths of textboxes inside the page, every 5 ms."""
    page.evaluate(RECORD, list(elem_ids))


def recorded(page: Any) -> list[tuple[int, ...]]:
    """Stop sampling; the lengths seen, one tuple per sample."""
    return [tuple(sample) for sample in page.evaluate(RECORDED)]


def generate(page: Any, button: str = "generate") -> list[int]:
    """Press a writing button and return the output lengths seen until it ended."""
    record(page, "output")
    page.locator(f"#{button}").click()
    page.locator("#status").get_by_text("Writing…").wait_for()
    wait_finished(page)
    return [sample[0] for sample in recorded(page)]


def test_sign_up_log_out_and_log_in(page: Any, writer_app: App) -> None:
    name = sign_up(page, writer_app)
    page.locator("#log-out").click()
    page.locator("#signin").wait_for(state="visible")
    page.locator("#username textarea").fill(name)
    page.locator("#password input").fill("wrong password!")
    page.locator("#log-in").click()
    page.locator("#auth-status").get_by_text("Wrong username or password.").wait_for()
    page.locator("#password input").fill(PASSWORD)
    page.locator("#log-in").click()
    page.locator("#who").get_by_text(name).wait_for()


def test_pick_style_generate_regenerate(page: Any, writer_app: App) -> None:
    sign_up(page, writer_app)
    page.locator("#gallery").get_by_text("Style gallery").click()  # the gallery starts closed
    page.locator("#use-pirate").click()
    page.locator("#use-pirate").get_by_text("✓ Using Pirate").wait_for()
    page.locator("#prompt textarea").fill(PROMPT)
    lengths = generate(page)
    growing = sorted({n for n in lengths[:-1] if n})
    assert len(growing) >= 3, f"text did not stream: lengths seen {lengths}"
    assert lengths[-1] >= growing[-1] > 0
    first = value(page, "output")
    shot(page, "writer")
    generate(page, "regenerate")
    page.locator("#alt-label").get_by_text("Take 2 of 2 · Pirate").wait_for()
    page.locator("#prev-alt").click()
    page.locator("#alt-label").get_by_text("Take 1 of 2 · Pirate").wait_for()
    assert value(page, "output") == first


def test_stop_ends_the_request_on_the_server(page: Any, writer_app: App) -> None:
    sign_up(page, writer_app)
    page.locator("#prompt textarea").fill("A story that never ends")
    box = page.locator("#max-tokens input[type=number]")  # long enough that it cannot end before Stop,
    box.fill(str(LONG))                                   # however slowly a loaded machine draws the page
    box.press("Enter")
    page.locator("#generate").click()
    watch(lambda: None, lambda: len(value(page, "output")) > 20)
    busy = writer_app.engine_stats()
    page.locator("#stop").click()
    assert busy["num_running"] >= 1 and busy["num_streams"] >= 1
    page.locator("#status").get_by_text("Stopped.").wait_for()
    idle = watch(writer_app.engine_stats, lambda: writer_app.engine_stats()["num_streams"] == 0, timeout=3)[-1]
    assert idle["num_running"] == 0 and idle["kv_blocks_used"] == 0
    stopped_at = len(value(page, "output"))
    time.sleep(0.5)
    assert len(value(page, "output")) == stopped_at < LONG
    open_in_history(page, "A story that never ends")
    page.locator("#transcript").get_by_text("aborted").first.wait_for()


def test_compare_three_styles_stream_concurrently(page: Any, writer_app: App) -> None:
    sign_up(page, writer_app)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill(PROMPT)
    record(page, "pane-0", "pane-1", "pane-2")
    page.locator("#compare").click()
    page.locator("#compare-status").get_by_text("Done.").wait_for(timeout=60_000)
    seen = recorded(page)
    together = next(i for i, s in enumerate(seen) if all(s))  # all three have text...
    final = seen[-1]
    assert all(n > 0 for n in final) and sum(seen[together]) < sum(final)
    assert all(seen[together][k] < final[k] for k in range(3)), f"not concurrent: {seen[together]} -> {final}"
    shot(page, "compare")


def test_share_link_opens_logged_out_and_can_be_revoked(page: Any, browser: Any, writer_app: App) -> None:
    sign_up(page, writer_app)
    page.locator("#prompt textarea").fill("A shared poem")
    generate(page)
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", "A shared poem")
    page.locator("#history-share").click()
    watch(lambda: None, lambda: "/share/" in value(page, "share-link"))
    link = value(page, "share-link")
    stranger = browser.new_context().new_page()
    stranger.goto(link, wait_until="load")
    assert "A shared poem" in stranger.locator("#shared").inner_text()
    shot(stranger, "share-page")
    page.locator("#history-revoke").click()
    page.locator("#history-status").get_by_text("The share link no longer works.").wait_for()
    stranger.goto(link, wait_until="load")
    assert "revoked or never existed" in stranger.content()
    stranger.context.close()


def test_embed_in_an_allowed_site_and_refused_elsewhere(page: Any, writer_app: App) -> None:
    headers = httpx.get(f"{writer_app.url}/?embed=1&style=verse").headers
    assert headers["content-security-policy"] == f"frame-ancestors 'self' {writer_app.allowed_site}"
    assert "x-frame-options" not in headers
    assert httpx.get(f"{writer_app.url}/").headers["content-security-policy"] == "frame-ancestors 'self'"
    page.goto(writer_app.allowed_site, wait_until="load")
    frame = page.frame_locator("#writer")
    frame.locator("#embed-title").get_by_text("Verse").wait_for()
    frame.locator("#embed-prompt textarea").fill(PROMPT)
    frame.locator("#embed-generate").click()
    watch(lambda: None, lambda: FINISHED.match(frame.locator("#embed-status").inner_text().strip()) is not None)
    assert frame.locator("#embed-output textarea").input_value()
    shot(page, "embed")
    page.goto(writer_app.refused_site, wait_until="load")
    time.sleep(2)
    child = page.frames[1]
    assert child.url.startswith("chrome-error://") or not child.url.startswith(writer_app.url)
    assert page.frame_locator("#writer").locator("#embed-generate").count() == 0
