"""Page helpers shared by the browser tests: sign up, read boxes, wait for the writer to finish."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

PASSWORD = "a long enough password"
PROMPT = "Write about the sea"
FINISHED = re.compile(r"Done\.|length limit|Stopped\.|⚠️")


def sign_up(page: Any, url: str) -> str:
    """Open the app and create a fresh account; returns its name."""
    name = f"writer-{uuid.uuid4().hex[:8]}"
    page.goto(url, wait_until="load")
    page.locator("#username textarea").fill(name)
    page.locator("#password input").fill(PASSWORD)
    page.locator("#sign-up").click()
    page.locator("#who").get_by_text(name).wait_for()
    return name


def value(page: Any, elem_id: str) -> str:
    """The text of a textbox."""
    return page.locator(f"#{elem_id} textarea").input_value()


def status(page: Any, elem_id: str = "status") -> str:
    """The text of a status line."""
    return page.locator(f"#{elem_id}").inner_text().strip()


def watch(sample: Callable[[], Any], done: Callable[[], bool], timeout: float = 60) -> list[Any]:
    """Sample every 20 ms until ``done()``; returns the samples (the last one taken after done)."""
    samples, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = done()
        samples.append(sample())
        if finished:
            return samples
        time.sleep(0.02)
    raise AssertionError(f"not done after {timeout}s; last sample {samples[-1]!r}")


def wait_finished(page: Any, elem_id: str = "status", timeout: float = 60) -> str:
    """Wait until a writing status line says the stream ended (any way); returns it."""
    watch(lambda: None, lambda: bool(FINISHED.search(status(page, elem_id))) and "Writing" not in status(page, elem_id),
          timeout)
    return status(page, elem_id)


OBSERVE = """id => { window.__lines = []; const el = document.getElementById(id);
  window.__observer && window.__observer.disconnect();
  window.__observer = new MutationObserver(() => window.__lines.push(el.innerText));
  window.__observer.observe(el, {subtree: true, childList: true, characterData: true}); }"""


def write(page: Any, button: str = "generate", timeout: float = 60, elem_id: str = "status",
          start: Callable[[], None] | None = None) -> str:
    """Press a writing button (or call ``start``) and wait until its stream was seen writing and then
    ended; returns the status line (watched in the page, so a short stream's "Writing…" is never missed)."""
    page.evaluate(OBSERVE, elem_id)
    (start or page.locator(f"#{button}").click)()

    def ended() -> bool:
        lines = page.evaluate("() => window.__lines")
        started = next((i for i, line in enumerate(lines) if "Writing" in line), None)
        now = status(page, elem_id)
        return started is not None and "Writing" not in now and bool(FINISHED.search(now))

    watch(lambda: None, ended, timeout)
    return status(page, elem_id)


def pick(page: Any, elem_id: str, option: str) -> None:
    """Choose ``option`` in a Gradio dropdown."""
    box = page.locator(f"#{elem_id} input")
    for attempt in range(3):  # the list re-renders while it refreshes: open it again
        box.blur()  # a box still focused (its list closed with Esc) opens its list on a fresh focus only
        box.click()
        box.fill(option)  # the list shows only the options matching what the box holds
        try:
            page.get_by_role("option", name=option).first.click(timeout=5_000)
            return
        except Exception:
            if attempt == 2:
                raise


def open_in_history(page: Any, title: str) -> None:
    """Open a session from the History tab."""
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", title)
    page.locator("#history-open").click()
    page.locator("#history-status").get_by_text("Opened").wait_for()
