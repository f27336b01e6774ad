"""Issue 14's defects, one test each, in Chromium (defect 3 and 8: test_sessions.py; 14: test_shutdown.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import WriterServer, _chromium_or_skip
from tests.browser.helpers import PROMPT, open_in_history, pick, sign_up, status, value, watch, write

pytestmark = pytest.mark.browser
STYLES = {"verse": ("Verse", "Short lines that sing."), "pirate": ("Pirate", "Arr, says the sea dog."),
          "legal": ("Legal", "Whereas the party of the first part."), "noir": ("Noir", "Rain on neon."),
          "haiku": ("Haiku", "Five, seven, five.")}
TOKENS = {"verse": 24, "pirate": 40, "legal": 400, "noir": 24, "haiku": 24}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _chromium_or_skip()
    server = WriterServer(tmp_path_factory.mktemp("defects"), STYLES, TOKENS)
    server.start()
    yield server.url
    server.stop()


def _prompt(page: Any, text: str) -> None:
    page.locator("#prompt textarea").fill(text)


def _options(page: Any) -> list[str]:
    page.get_by_role("tab", name="History").click()
    page.locator("#history-refresh").click()
    page.wait_for_timeout(500)
    page.locator("#session-picker input").click()
    names = [name.lstrip("✓").strip() for name in page.get_by_role("option").all_inner_texts()]  # ✓: the pick
    page.keyboard.press("Escape")
    return names


def test_1_open_restores_the_style_and_regenerate_keeps_it(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Pirate")
    _prompt(page, "A pirate's first poem")
    write(page)
    pick(page, "style", "Verse")
    open_in_history(page, "A pirate's first poem")
    assert page.locator("#style input").input_value() == "Pirate"
    page.get_by_role("tab", name="Write").click()
    write(page, "regenerate")
    assert "Take 2 of 2 · Pirate" in status(page, "alt-label")


def test_2_continue_stores_the_take_once(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    _prompt(page, "Continue me")
    write(page)
    first = value(page, "output")
    write(page, "continue")
    assert value(page, "output").startswith(first) and len(value(page, "output")) > len(first)
    open_in_history(page, "Continue me")
    transcript = page.locator("#transcript").inner_text()
    assert transcript.count("Prompt") == 1 and transcript.count("Verse · strength") == 1, transcript


def test_4_errors_are_plain_words_and_failed_sessions_leave_no_trace(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    _prompt(page, "Too long " + "x" * 3000)
    line = write(page)
    assert "Shorten the prompt" in line and "max_model_len" not in line
    assert not re.search(r"[A-Z][a-z]+Error|tokens\) \+", line)
    assert not any(o.startswith("Too long") for o in _options(page))


def test_5_working_state_beside_the_buttons_and_generate_locked(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Legal")
    _prompt(page, "A long contract")
    page.locator("#generate").click()
    watch(lambda: None, lambda: re.search(r"Writing… [\d.]+ s · \d+ tokens", status(page)) is not None, 20)
    assert page.locator("#generate").is_disabled() and page.locator("#continue").is_disabled()
    buttons, line = page.locator("#write-buttons").bounding_box(), page.locator("#status").bounding_box()
    assert 0 <= line["y"] - (buttons["y"] + buttons["height"]) < 40 and line["y"] < 900
    page.locator("#stop").click()
    page.locator("#status").get_by_text("Stopped.").wait_for()
    watch(lambda: None, lambda: page.locator("#generate").is_enabled(), 10)


def test_6_takes_accumulate_and_a_new_prompt_is_a_new_piece(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    _prompt(page, "First piece")
    for _ in range(3):
        write(page)
    assert status(page, "alt-label").startswith("Take 3 of 3")
    _prompt(page, "Second piece")
    write(page)
    assert status(page, "alt-label").startswith("Take 1 of 1")
    titles = _options(page)
    assert any(t.startswith("First piece") for t in titles) and any(t.startswith("Second piece") for t in titles)


def test_7_the_length_limit_is_not_done(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    _prompt(page, PROMPT)
    line = write(page)
    assert "length limit" in line and "Continue" in line and "Done" not in line


def test_9_embed_speaks_to_visitors_not_about_logging_in(page: Any, url: str) -> None:
    page.goto(f"{url}/?embed=1&style=verse", wait_until="load")
    page.locator("#embed-generate").click()
    page.locator("#embed-status").get_by_text("Type what you would like written").wait_for()
    page.locator("#embed-prompt textarea").fill(PROMPT)
    page.locator("#embed-generate").click()
    watch(lambda: None, lambda: "length limit" in status(page, "embed-status"))
    assert "Log in" not in page.locator("#embed").inner_text()
    page.goto(f"{url}/?embed=1&style=nope", wait_until="load")
    page.locator("#embed-title").get_by_text("isn't available").wait_for()


def test_10_history_share_delete_and_labelled_exports(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Noir")
    for title in ("Shared one", "Other one"):
        _prompt(page, title)
        write(page)
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", "Shared one")
    page.locator("#history-share").click()
    watch(lambda: None, lambda: "/share/" in value(page, "share-link"))
    pick(page, "session-picker", "Other one")
    watch(lambda: None, lambda: value(page, "share-link") == "", 5)
    page.locator("#history-open").click()
    transcript = page.locator("#transcript")
    transcript.get_by_text("Exported from Inkwell on").wait_for()
    assert re.search(r"Noir · strength 1 · temperature 1 · top-p 0\.95 · max tokens 24", transcript.inner_text())
    page.locator("#history-delete").click()
    page.locator("#history-status").get_by_text("can't be undone").wait_for()
    page.locator("#history-delete-no").click()
    assert any(t.startswith("Other one") for t in _options(page))
    pick(page, "session-picker", "Other one")
    page.locator("#history-delete").click()
    page.locator("#history-delete-yes").click()
    page.locator("#history-status").get_by_text("Session deleted.").wait_for()
    assert not any(t.startswith("Other one") for t in _options(page))


def test_11_compare_limits_styles_uses_their_defaults_and_one_session(page: Any, url: str) -> None:
    sign_up(page, url)
    page.get_by_role("tab", name="Compare").click()
    boxes = page.locator("#compare-styles")
    for name, _ in STYLES.values():
        if boxes.get_by_label(name).is_checked():
            boxes.get_by_label(name).click()
            page.wait_for_timeout(400)
    for name in ("Verse", "Pirate", "Legal", "Noir", "Haiku"):
        boxes.get_by_label(name).click()
        page.wait_for_timeout(400)
    page.locator("#compare-status").get_by_text("up to 4 styles").wait_for()
    assert not boxes.get_by_label("Haiku").is_checked()
    assert sum(boxes.get_by_label(name).is_checked() for name, _ in STYLES.values()) == 4
    boxes.get_by_label("Legal").click()
    page.wait_for_timeout(400)
    page.locator("#compare-prompt textarea").fill("Compare once")
    for _ in range(2):
        page.locator("#compare").click()
        watch(lambda: None, lambda: status(page, "compare-status").startswith("Done"))
    pane_labels = " ".join(page.locator("[id^=pane-]").all_inner_texts())
    assert "Verse · strength 1 · temperature 1 · top-p 0.95 · up to 24 tokens" in pane_labels
    assert "Pirate · strength 1.5 · temperature 1 · top-p 0.95 · up to 40 tokens" in pane_labels  # its own
    assert sum(t.startswith("Compare: Compare once") for t in _options(page)) == 1


def test_12_prompt_first_on_a_phone_with_a_compact_gallery(browser: Any, url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_up(page, url)
    for elem in ("#prompt textarea", "#style", "#generate", "#stop"):
        box = page.locator(elem).bounding_box()
        assert box["y"] + box["height"] <= 844, f"{elem} below the fold: {box}"
    assert page.locator("#use-pirate").is_hidden()  # the gallery starts closed
    page.locator("#gallery").get_by_text("Style gallery").click()
    page.locator("#use-pirate").click()
    page.locator("#use-pirate").get_by_text("✓ Using Pirate").wait_for()
    assert page.locator("#style input").input_value() == "Pirate"
    page.locator("#try-verse").click()
    watch(lambda: None, lambda: value(page, "prompt") == "Write about the sea.", 5)
    assert page.locator("#style input").input_value() == "Verse"
    context.close()


def test_13_editable_text_undo_counts_shortcuts_and_dark_mode(page: Any, url: str) -> None:
    sign_up(page, url)
    pick(page, "style", "Verse")
    _prompt(page, "Edit me")
    page.locator("#prompt textarea").press("Control+Enter")
    watch(lambda: None, lambda: "length limit" in status(page))
    page.locator("#output textarea").fill("My own opening")
    page.locator("#output textarea").press_sequentially(" line.")
    watch(lambda: status(page, "counts"), lambda: "4 words" in status(page, "counts"), 5)
    write(page, "continue")
    assert value(page, "output").startswith("My own opening line.") and len(value(page, "output")) > 20
    page.locator("#undo").click()
    watch(lambda: None, lambda: value(page, "output") == "My own opening line.", 5)
    before = page.evaluate("() => getComputedStyle(document.body).getPropertyValue('--body-background-fill')")
    page.locator("#dark-toggle").click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.body.classList.contains('dark')")
    assert page.evaluate("() => getComputedStyle(document.body).getPropertyValue('--body-background-fill')") != before
    page.reload(wait_until="load")
    page.locator("#who").wait_for()
    assert page.evaluate("() => document.body.classList.contains('dark')")  # remembered
