"""Stop strings: the matcher alone, then the detokenizer on the real SmolLM2 tokenizer."""

from __future__ import annotations

import pytest

from engine.model_store import resolve_model
from engine.sampling_params import SamplingParams
from engine.stop import StopMatcher
from engine.tokenizer import Tokenizer

TEXT = "The ENDLESS night 🎉 ended. 你好世界 END. More text after the end."


@pytest.mark.parametrize("text, held", [("the E", 1), ("the EN", 2), ("the X", 0), ("", 0), ("xab", 2),
                                        ("xbc", 2), ("c", 0)])
def test_held_back_is_the_longest_tail_that_could_start_a_stop(text: str, held: int) -> None:
    assert StopMatcher(["END", "abc", "bcd"]).held_back(text) == held


def test_find_reports_the_earliest_stop_and_prefers_the_longest_at_a_tie() -> None:
    matcher = StopMatcher(["b", "cd", "c"])
    assert matcher.find("a c cd b") == (2, "c")
    assert matcher.find("a cd b") == (2, "cd")
    assert matcher.find("xyz") is None


def test_empty_stop_string_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty strings"):
        StopMatcher(["ok", ""])


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_dir(resolve_model("smollm2-135m"))


def _first_stop_token(tokenizer: Tokenizer, ids: list[int], stop: str) -> int:
    """Index of the first token after which the decoded text, with no broken character, holds ``stop``.

    A token carrying the first bytes of a character comes out with that character, never before.
    """
    prefixes = (tokenizer.decode(ids[: i + 1]) for i in range(len(ids)))
    return next(i for i, text in enumerate(prefixes) if stop in text and not text.endswith("\ufffd"))


def _stream_until_stop(tokenizer: Tokenizer, ids: list[int], stops: list[str]) -> tuple[str, str | None, int]:
    detok = tokenizer.detokenizer(SamplingParams(stop=stops), [])
    for index, token in enumerate(ids):
        _, stop = detok.push(token)
        if stop is not None:
            return detok.text, stop, index
    return detok.text + detok.flush(), None, len(ids)


@pytest.mark.slow
def test_every_stop_spanning_tokens_cuts_exactly_before_it(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode(TEXT)
    spans = {TEXT[start:start + size] for start in range(0, len(TEXT) - 4, 3) for size in (2, 3, 5)}
    for stop in sorted(spans):
        text, matched, index = _stream_until_stop(tokenizer, ids, [stop])
        assert (text, matched) == (TEXT[: TEXT.index(stop)], stop), stop
        assert index == _first_stop_token(tokenizer, ids, stop), stop


@pytest.mark.slow
@pytest.mark.parametrize("stops, expected_stop", [(["END."], "END."), (["🎉"], "🎉"), (["好世"], "好世"),
                                                  (["after", "ended"], "ended")])
def test_stop_strings_across_words_bytes_and_choices(tokenizer: Tokenizer, stops: list[str],
                                                     expected_stop: str) -> None:
    text, matched, _ = _stream_until_stop(tokenizer, tokenizer.encode(TEXT), stops)
    assert (text, matched) == (TEXT[: TEXT.index(expected_stop)], expected_stop)


@pytest.mark.slow
def test_no_partial_stop_is_ever_shown_and_flush_releases_it(tokenizer: Tokenizer) -> None:
    detok = tokenizer.detokenizer(SamplingParams(stop=["END!"]), [])
    shown = [detok.push(token)[0] for token in tokenizer.encode("the story END")]
    assert "".join(shown) == "the story "
    assert detok.flush() == "END"
    assert detok.text == "the story END"


@pytest.mark.slow
def test_push_after_a_stop_is_refused(tokenizer: Tokenizer) -> None:
    detok = tokenizer.detokenizer(SamplingParams(stop=["x"]), [])
    assert detok.push(tokenizer.encode("x")[0]) == ("", "x")
    assert detok.flush() == ""
    with pytest.raises(RuntimeError, match="already ended"):
        detok.push(0)
