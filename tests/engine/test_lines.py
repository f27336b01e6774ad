"""``SamplingParams.lines``: EOS is held back until the output has that many non-empty lines, and the
engine ends the output when the last line's newline is generated (a sonnet's 14 lines)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from engine import LLM, SamplingParams
from engine.lines import HARD_WRAP, LineCounter
from engine.sampler import SampleRow, Sampler

EOS = 3


def _counted(*pieces: str) -> LineCounter:
    counter = LineCounter()
    for piece in pieces:
        counter.feed(piece)
    return counter


@pytest.mark.parametrize(("pieces", "done", "open_"), [
    (["one"], 0, True),
    (["one\n"], 1, False),
    (["on", "e\ntw", "o"], 1, True),
    (["one\n\n  \n", "two\n"], 2, False),  # blank and whitespace-only lines are not lines
    (["\n", "\n", " "], 0, False),
    (["a\nb\nc\n"], 3, False),
    (["a", " ", "\n"], 1, False),
])
def test_the_counter_counts_non_empty_lines_across_pieces(pieces: list[str], done: int, open_: bool) -> None:
    counter = _counted(*pieces)
    assert (counter.done, counter.open) == (done, open_)


def test_the_text_may_end_once_the_last_line_has_begun() -> None:
    assert not _counted("a\nb\n").may_end(3)
    assert _counted("a\nb\nc").may_end(3) and _counted("a\nb\nc\n").may_end(3)


def _row(counter: LineCounter | None, **params: object) -> SampleRow:
    return SampleRow(SamplingParams(temperature=0.0, max_tokens=64, **params), None, [1], [9], counter)


def test_eos_and_stop_token_ids_are_banned_until_the_lines_can_end() -> None:
    logits = torch.zeros(5, 16)
    logits[:, EOS], logits[:, 5], logits[:, 7] = 9.0, 8.0, 1.0  # EOS best, then stop token 5
    rows = [_row(_counted("a\nb\n"), lines=3), _row(_counted("a\nb\nc"), lines=3),
            _row(LineCounter(), lines=2), _row(_counted("a\n"), lines=3, stop_token_ids=[5]), _row(_counted("a\n"))]
    tokens = [t.token_id for t in Sampler(eos_token_ids=[EOS])(logits, rows)]
    assert tokens == [5, EOS, 5, 7, EOS]


@pytest.mark.parametrize("value", [-1, 1001])
def test_lines_outside_the_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match=r"lines must be in \[0, 1000\]"):
        SamplingParams(lines=value)


class _Biased:
    """The engine's own sampler over logits raised by ``bias(row)``: {token id: added logit}."""

    def __init__(self, sampler: Sampler, bias: Callable[[SampleRow], dict[int, float]]) -> None:
        self.sampler, self.bias = sampler, bias

    def __call__(self, logits: torch.Tensor, rows: list[SampleRow]) -> list:
        logits = logits.clone()  # [B, V]
        for i, row in enumerate(rows):
            for token, value in self.bias(row).items():
                logits[i, token] += value
        return self.sampler(logits, rows)


@pytest.fixture()
def scripted_llm(tiny_llama_dir: Path) -> LLM:
    llm = LLM(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128)
    tokenizer = llm.engine.tokenizer
    eos = min(tokenizer.eos_token_ids)
    newline = tokenizer.encode("\n")[-1]
    runner = llm.engine.runner
    runner.sampler = _Biased(runner.sampler, lambda row: {  # EOS always first, every 4th token a newline
        eos: 100.0, **({newline: 200.0} if len(row.output_ids) % 4 == 3 else {})})
    return llm


def test_the_engine_writes_exactly_the_lines_asked_for(scripted_llm: LLM) -> None:
    free = scripted_llm.generate("Once upon", SamplingParams(temperature=0.0, max_tokens=64))[0].outputs[0]
    assert free.text == "" and free.finish_reason == "stop"  # EOS first: without ``lines`` nothing is written
    for lines in (1, 3, 5):
        out = scripted_llm.generate("Once upon", SamplingParams(temperature=0.0, max_tokens=64, lines=lines))
        reply = out[0].outputs[0]
        assert reply.finish_reason == "stop"
        assert len([ln for ln in reply.text.splitlines() if ln.strip()]) == lines, reply.text


def test_max_tokens_still_ends_a_reply_short_of_its_lines(scripted_llm: LLM) -> None:
    reply = scripted_llm.generate("Once upon", SamplingParams(temperature=0.0, max_tokens=6, lines=5))[0].outputs[0]
    assert reply.finish_reason == "length" and len(reply.token_ids) == 6


@pytest.mark.parametrize(("line", "wrap"), [
    ("short, line,", False),
    ("a" * 59 + ",", True),  # past WRAP_AT, after punctuation
    ("a" * 70, False),  # past WRAP_AT, mid-phrase: wait for punctuation
    ("a " * 60, True),  # past HARD_WRAP: break now
])
def test_a_long_line_is_broken_after_punctuation_or_at_the_hard_limit(line: str, wrap: bool) -> None:
    counter = _counted("first\n", line)
    assert counter.should_wrap() is wrap and _counted(line + "\n").should_wrap() is False


@pytest.mark.parametrize(("line", "wrap"), [
    ("a" * 38 + ",", False),  # short of 40 characters
    ("a" * 39 + ",", True),  # 40, after punctuation
    ("a " * 36, False),  # 72 characters mid-phrase: under 40 * 110 / 60 = 73.3
    ("a " * 37, True),  # 74: past the hard width, break now
])
def test_a_soft_width_scales_the_hard_one(line: str, wrap: bool) -> None:
    assert _counted("first\n", line).should_wrap(40) is wrap


def test_a_line_width_row_is_broken_at_its_own_width_without_a_line_count() -> None:
    newline, logits = 10, torch.zeros(4, 16)
    logits[:, 7] = 5.0
    verse = _counted("a" * 44 + ",")  # past 40, on a comma; short of the default 60
    rows = [_row(verse, line_width=40), _row(verse), _row(verse, lines=3), _row(_counted("a" * 30 + ","),
                                                                              line_width=40)]
    tokens = [t.token_id for t in Sampler(eos_token_ids=[EOS], newline_token_id=newline)(logits, rows)]
    assert tokens == [newline, 7, 7, 7]


@pytest.mark.parametrize("value", [-1, 1, 15, 1001])
def test_a_line_width_outside_the_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match=r"line_width must be 0 \(off\) or in \[16, 1000\]"):
        SamplingParams(line_width=value)


def test_a_lines_row_with_a_long_line_gets_the_newline_token() -> None:
    newline, logits = 10, torch.zeros(3, 16)
    logits[:, 7] = 5.0
    long_line = _counted("a" * 120)
    rows = [_row(long_line, lines=3), _row(long_line), _row(_counted("short"), lines=3)]
    tokens = [t.token_id for t in Sampler(eos_token_ids=[EOS], newline_token_id=newline)(logits, rows)]
    assert tokens == [newline, 7, 7]  # only rows that must keep to their lines are broken


def test_the_forced_newline_wins_over_the_no_repeat_ngram_ban() -> None:
    newline, logits = 10, torch.zeros(1, 16)
    logits[0, 7] = 5.0
    # the output ends "4 5 6", and "4 5 6 <newline>" came before: a 4-gram ban of the newline the line needs
    row = SampleRow(SamplingParams(temperature=0.7, seed=1, no_repeat_ngram_size=4, lines=3, max_tokens=64), None,
                    [1], [4, 5, 6, newline, 4, 5, 6], _counted("x\n", "a" * 120))
    (token,) = Sampler(eos_token_ids=[EOS], newline_token_id=newline)(logits, [row])
    assert (token.token_id, token.error) == (newline, None)


def test_a_model_that_never_breaks_a_line_still_writes_its_lines(tiny_llama_dir: Path) -> None:
    llm = LLM(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=512)
    tokenizer, runner = llm.engine.tokenizer, llm.engine.runner
    letter, eos = tokenizer.encode("a")[-1], min(tokenizer.eos_token_ids)
    runner.sampler = _Biased(runner.sampler, lambda row: {letter: 200.0, eos: 100.0})  # "a" first, then EOS: no breaks
    reply = llm.generate("Once upon", SamplingParams(temperature=0.0, max_tokens=400, lines=3))[0].outputs[0]
    assert reply.finish_reason == "stop"
    assert reply.text.splitlines() == ["a" * HARD_WRAP] * 3
