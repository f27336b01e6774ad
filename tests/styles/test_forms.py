"""Verse forms a request asks to be written, and the line counts the API then sets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.errors import APIError
from app.schemas import ChatCompletionRequest
from app.submit import requested_form_lines, sampling_params
from styles.forms import form_lines


@pytest.mark.parametrize(("request_text", "lines"), [
    ("Write a sonnet about the sea.", 14),
    ("Write an Elizabethan love sonnet for my wife", 14),
    ("compose a short haiku on rain", 3),
    ("Write me a funny limerick about cats", 5),
    ("Give me a quatrain on autumn", 4),
    ("WRITE A SONNET", 14),
    ("What is a sonnet?", 0),  # asked about, not to be written
    ("Write three haiku", 0),  # several: no single count
    ("Write sonnets about love", 0),
    ("write a sonnet-like poem", 0),
    ("Write a poem about the sea.", 0),
])
def test_a_form_counts_only_when_asked_to_be_written(request_text: str, lines: int) -> None:
    assert form_lines(request_text) == lines


def _chat(*messages: tuple[str, str], **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="poetry", messages=[{"role": r, "content": c} for r, c in messages], **fields)


def test_the_last_user_message_decides_and_continuations_get_none() -> None:
    assert requested_form_lines(_chat(("user", "Write a sonnet about the sea."))) == 14
    assert requested_form_lines(_chat(("user", "Write a sonnet."), ("assistant", "..."),
                                      ("user", "Now write a haiku"))) == 3
    continuing = _chat(("user", "Write a sonnet."), ("assistant", "The sea"), continue_final_message=True,
                       add_generation_prompt=False)
    assert requested_form_lines(continuing) == 0


def test_the_client_value_wins_over_the_form() -> None:
    state = SimpleNamespace(settings=SimpleNamespace(max_n=4), engine=SimpleNamespace(max_model_len=2048))
    model = SimpleNamespace(defaults={"temperature": 0.7, "max_tokens": 220})
    asked = _chat(("user", "Write a sonnet about the sea."))
    assert sampling_params(state, asked, model, 20, None).lines == 14
    assert sampling_params(state, _chat(("user", "Write a sonnet."), lines=0), model, 20, None).lines == 0
    assert sampling_params(state, _chat(("user", "Tell me a joke"), lines=2), model, 20, None).lines == 2


def test_a_style_line_width_applies_unless_the_client_sends_its_own() -> None:
    state = SimpleNamespace(settings=SimpleNamespace(max_n=4), engine=SimpleNamespace(max_model_len=2048))
    model = SimpleNamespace(defaults={"temperature": 0.7, "max_tokens": 220, "line_width": 40})
    assert sampling_params(state, _chat(("user", "A poem on rain")), model, 20, None).line_width == 40
    assert sampling_params(state, _chat(("user", "A poem"), line_width=0), model, 20, None).line_width == 0
    assert sampling_params(state, _chat(("user", "A poem"), line_width=50), model, 20, None).line_width == 50
    with pytest.raises(APIError) as refused:
        sampling_params(state, _chat(("user", "A poem"), line_width=5), model, 20, None)
    assert (refused.value.status, refused.value.param) == (400, "line_width")
