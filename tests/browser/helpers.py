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


def write(page: Any, button: str = "generate", timeout: float = 60) -> str:
    """Press a writing button, wait until it is done; returns the status line (a new one)."""
    before = status(page)
    page.locator(f"#{button}").click()
    watch(lambda: None, lambda: (now := status(page)) != before and bool(FINISHED.search(now))
          and "Writing" not in now, timeout)
    return status(page)


def pick(page: Any, elem_id: str, option: str) -> None:
    """Choose ``option`` in a Gradio dropdown."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).first.click()


def open_in_history(page: Any, title: str) -> None:
    """Open a session from the History tab."""
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", title)
    page.locator("#history-open").click()
    page.locator("#history-status").get_by_text("Opened").wait_for()
