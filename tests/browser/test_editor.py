"""The editor's comforts in Chromium: length presets beside max tokens, the Markdown view, and the three
exports (.md, .txt, .docx opened with python-docx) with date, style and settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from app.ui.export import FORMATS
from tests.browser.conftest import WriterServer, _chromium_or_skip
from tests.browser.helpers import pick, sign_up, status, watch, write

pytestmark = pytest.mark.browser
SETTINGS = re.compile(r"Verse · strength 1 · temperature 1 · top-p 0\.95 · max tokens 24 · "
                      r"\d{4}-\d\d-\d\d \d\d:\d\d")
DATE_LINE = re.compile(r"Exported from Inkwell on \d{4}-\d\d-\d\d \d\d:\d\d UTC")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _chromium_or_skip()
    server = WriterServer(tmp_path_factory.mktemp("editor"), max_tokens={"verse": 24, "pirate": 24, "legal": 400})
    server.start()
    yield server.url
    server.stop()


def _max_tokens(page: Any) -> int:
    return int(float(page.locator("#max-tokens input[type=number]").input_value()))


def _preset(page: Any) -> str | None:
    return page.evaluate("() => { const c = document.querySelector('#length input:checked'); return c && c.value; }")


def test_length_presets_set_max_tokens_and_follow_it(page: Any, url: str) -> None:
    sign_up(page, url)
    # Verse is the first style: picking it again may land its defaults late, over a preset clicked meanwhile.
    # Legal's 400 tokens (no preset) first, so the wait below can only end once Verse's defaults have landed.
    pick(page, "style", "Legal")
    watch(lambda: None, lambda: _max_tokens(page) == 400 and _preset(page) is None, 5)
    pick(page, "style", "Verse")
    watch(lambda: None, lambda: _max_tokens(page) == 24 and _preset(page) == "A line", 5)  # the style's default
    for label, tokens in (("A page", 512), ("A sonnet", 176), ("A paragraph", 128)):
        page.locator("#length").get_by_label(label).check()
        watch(lambda: _max_tokens(page), lambda t=tokens: _max_tokens(page) == t, 5)
    box = page.locator("#max-tokens input[type=number]")
    box.fill("40")
    box.press("Enter")
    watch(lambda: _preset(page), lambda: _preset(page) is None, 5)  # no preset is 40 tokens
    page.locator("#length").get_by_label("A line").check()
    watch(lambda: None, lambda: _max_tokens(page) == 24, 5)
    page.locator("#prompt textarea").fill("One line please")
    line = write(page)
    assert "length limit (24 tokens" in line, line


def test_markdown_view_renders_the_text_when_asked(page: Any, url: str) -> None:
    sign_up(page, url)
    rendered = page.locator("#rendered")
    output = page.locator("#output textarea")
    output.fill("# A title\n\nSome **bold** words and a list:\n\n- one\n- two")
    assert rendered.is_hidden()
    page.locator("#show-markdown").get_by_label("Show as formatted text (Markdown)").check()
    rendered.locator("h1").get_by_text("A title").wait_for()
    assert rendered.locator("strong").inner_text() == "bold" and rendered.locator("li").count() == 2
    output.fill("Now *changed*")
    output.blur()
    rendered.locator("em").get_by_text("changed").wait_for()
    page.locator("#show-markdown").get_by_label("Show as formatted text (Markdown)").uncheck()
    watch(lambda: None, lambda: rendered.is_hidden(), 5)


def _download(page: Any, fmt: str, tmp: Path) -> Path:
    page.locator(f"#export-{fmt}").click()
    page.locator("#history-status").get_by_text(f"as {FORMATS[fmt][1]}.").wait_for()
    link = page.locator("#export-file a").first
    with page.expect_download() as info:
        link.click()
    path = tmp / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_exports_in_three_formats_carry_date_style_and_settings(page: Any, url: str, tmp_path: Path) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    page.locator("#prompt textarea").fill("Export me")
    write(page)
    text = "The tide rolls in.\nGulls cry over *the* pier."
    page.locator("#output textarea").fill(text)  # the writer's edit is what gets exported
    page.locator("#output textarea").blur()  # kept on leaving the box (and as it is typed)
    watch(lambda: None, lambda: status(page, "counts").startswith("9 words · "), 10)
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", "Export me")

    markdown = _download(page, "markdown", tmp_path)
    body = markdown.read_text(encoding="utf-8")
    assert markdown.name == "Export-me.md" and body.startswith("# Export me\n")
    assert DATE_LINE.search(body) and "## Prompt\n\n> Export me" in body
    assert re.search(r"## " + SETTINGS.pattern + r"\n\n" + re.escape(text.replace("\n", "  \n")) + "\n", body)

    plain = _download(page, "text", tmp_path)
    body = plain.read_text(encoding="utf-8")
    assert plain.name == "Export-me.txt" and body.startswith("Export me\n=========\n") and DATE_LINE.search(body)
    assert re.search(r"\[" + SETTINGS.pattern + r"\]\n" + re.escape(text) + "\n", body)

    word = _download(page, "docx", tmp_path)
    document = Document(str(word))
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    assert word.name == "Export-me.docx" and document.core_properties.title == "Export me"
    assert paragraphs[0] == ("Title", "Export me") and DATE_LINE.fullmatch(paragraphs[1][1])
    assert ("Heading 2", "Prompt") in paragraphs and ("Quote", "Export me") in paragraphs
    headings = [t for s, t in paragraphs if s == "Heading 2" and t != "Prompt"]
    assert len(headings) == 1 and SETTINGS.fullmatch(headings[0])
    after = paragraphs.index(("Heading 2", headings[0])) + 1
    assert paragraphs[after:] == [("Normal", line) for line in text.split("\n")]
    assert "⚠️" not in status(page, "history-status")


def test_typing_then_writing_at_once_always_starts(page: Any, url: str) -> None:
    """A click never lands as the page's Gradio event stream closes (see app/ui/layout.py build_blocks)."""
    sign_up(page, url)
    prompt = page.locator("#prompt textarea")
    for n in range(8):
        page.wait_for_function("() => !document.querySelector('#generate').disabled")  # the last write unlocked
        prompt.press_sequentially(f"Line {n} ", delay=5)  # each keystroke saves the unsent prompt
        line = write(page, start=lambda: page.keyboard.press("Control+Enter"), timeout=30)
        assert "length limit" in line, f"write {n}: {line}"
