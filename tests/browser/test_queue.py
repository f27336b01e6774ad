"""A click never lands as the page's Gradio event stream closes: typing (which saves the unsent prompt)
and writing at once (Ctrl+Enter) starts the write every time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import WriterServer, _chromium_or_skip
from tests.browser.helpers import sign_up, write

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _chromium_or_skip()
    server = WriterServer(tmp_path_factory.mktemp("queue"), max_tokens={"verse": 16, "pirate": 16, "legal": 16})
    server.start()
    yield server.url
    server.stop()


def test_typing_then_writing_at_once_always_starts(page: Any, url: str) -> None:
    sign_up(page, url)
    prompt = page.locator("#prompt textarea")
    for n in range(8):
        page.wait_for_function("() => !document.querySelector('#generate').disabled")  # the last write unlocked
        prompt.press_sequentially(f"Line {n} ", delay=5)  # each keystroke saves the unsent prompt
        line = write(page, start=lambda: page.keyboard.press("Control+Enter"), timeout=30)
        assert "length limit" in line, f"write {n}: {line}"
