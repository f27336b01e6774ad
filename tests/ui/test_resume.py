"""Where a writer left off: the latest piece in its own style, and the prompt they were still typing."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from app.ui.draft import Draft
from app.ui.resume import UNSENT, keep_unsent, resumed
from app.ui.store import Viewer
from app.ui.token_count import TokenCounter
from app.ui.writer import run_take
from engine.tokenizer import Tokenizer
from tests.conftest import make_tiny_model_dir
from tests.ui.fakes import ScriptedEngine, make_services

CONTROLS = (1.0, 0.7, 0.9, 32)


async def _take(services, writer: Viewer, prompt: str, style: str) -> Draft:
    outs = [out async for out in run_take(services, "generate", writer, Draft(), prompt, "", style, *CONTROLS)]
    return outs[-1][1]


async def test_a_reload_brings_back_the_latest_piece_in_its_style(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(["Arr", " matey"]), store)
    await _take(services, writer, "Write about the sea", "pirate")
    draft, prompt, text, label, counts, style, status = resumed(services, writer)
    assert (prompt, text, style) == ("Write about the sea", "Arr matey", "pirate")
    assert draft.style == "pirate" and label.startswith("Take 1 of 1 · Pirate") and counts == "2 words"
    assert status == gr.update()  # nothing to say


async def test_an_unsent_prompt_comes_back_until_it_is_generated_from(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(["Arr"]), store)
    await _take(services, writer, "Write about the sea", "pirate")
    keep_unsent(services, writer, "A clause about", "legal")
    keep_unsent(services, writer, "A clause about cats", "legal")  # the last keystroke wins
    _, prompt, text, _, _, style, status = resumed(services, writer)
    assert (prompt, text, style, status) == ("A clause about cats", "Arr", "legal", UNSENT)
    await _take(services, writer, "A clause about cats", "legal")
    assert resumed(services, writer)[1] == "A clause about cats" and resumed(services, writer)[6] == gr.update()
    keep_unsent(services, writer, "Something", "poetry")
    keep_unsent(services, writer, "", "poetry")  # cleared by hand (or New piece)
    assert resumed(services, writer)[6] == gr.update()


def test_an_unknown_style_or_a_signed_out_tab_changes_nothing(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine([]), store)
    keep_unsent(services, writer, "Just typed", "gone-style")
    _, prompt, _, _, _, style, _ = resumed(services, writer)
    assert prompt == "Just typed" and style == gr.update()
    keep_unsent(services, None, "nobody", None)
    assert resumed(services, None) == (gr.update(),) * 7


def test_tokens_are_counted_with_the_served_models_tokenizer(tmp_path) -> None:
    tokenizer = Tokenizer.from_dir(make_tiny_model_dir(tmp_path / "model"))
    app = SimpleNamespace(state=SimpleNamespace(inkwell=None))
    counter = TokenCounter(app)
    assert counter("The sea sings.") is None  # still starting: no engine yet
    app.state.inkwell = SimpleNamespace(engine=SimpleNamespace(tokenizer=tokenizer))
    assert counter("The sea sings.") == len(tokenizer.encode("The sea sings.")) > 0
    assert counter("") == 0 and TokenCounter()("words only") is None
