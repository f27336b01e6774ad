"""``min_tokens``: EOS and stop token ids are banned, and stop strings unseen, until that many tokens exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine import LLM, SamplingParams
from engine.sampler import SampleRow, Sampler
from engine.tokenizer import Tokenizer

EOS = 3


def _row(outputs: int, **params: object) -> SampleRow:
    return SampleRow(SamplingParams(temperature=0.0, max_tokens=8, **params), None, [1], [9] * outputs)


def test_eos_and_stop_token_ids_are_banned_until_min_tokens() -> None:
    logits = torch.zeros(5, 16)
    logits[:, EOS], logits[:, 5], logits[:, 7] = 9.0, 8.0, 1.0  # EOS best, then stop token 5
    rows = [_row(1, min_tokens=2), _row(2, min_tokens=2), _row(0, min_tokens=1, stop_token_ids=[5]),
            _row(0, min_tokens=1, ignore_eos=True), _row(0, min_tokens=1, stop_token_ids=[5, 99, -1])]
    tokens = [t.token_id for t in Sampler(eos_token_ids=[EOS])(logits, rows)]
    assert tokens == [5, EOS, 7, EOS, 7]  # out-of-vocabulary stop ids are ignored, not an error


def test_sampled_rows_never_draw_a_banned_token() -> None:
    logits = torch.zeros(64, 16)
    logits[:, EOS] = 6.0
    rows = [SampleRow(SamplingParams(min_tokens=1, seed=i), torch.Generator().manual_seed(i), [1], [])
            for i in range(64)]
    drawn = {t.token_id for t in Sampler(eos_token_ids=[EOS])(logits, rows)}
    assert EOS not in drawn and len(drawn) > 5
    assert Sampler(eos_token_ids=[EOS])(logits[:1], [_row(0)])[0].token_id == EOS  # no min_tokens: EOS wins


@pytest.mark.parametrize("value", [-1, 9])
def test_min_tokens_outside_zero_to_max_tokens_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match=r"min_tokens must be in \[0, max_tokens=8\]"):
        SamplingParams(max_tokens=8, min_tokens=value)


def _until_stop(detok: object, ids: list[int]) -> tuple[str, str | None, int]:
    """Push ``ids`` until a stop string matches: (text shown, the stop, tokens pushed)."""
    text = ""
    for count, token in enumerate(ids, start=1):
        delta, stop = detok.push(token)
        text += delta
        if stop is not None:
            return text, stop, count
    return text, None, len(ids)


def test_stop_strings_are_not_looked_for_in_the_first_min_tokens(tiny_llama_dir: Path) -> None:
    tokenizer = Tokenizer.from_dir(tiny_llama_dir)
    ids = tokenizer.encode("abcab!")  # byte tokens: one per character
    runs = [_until_stop(tokenizer.detokenizer(SamplingParams(stop=["ab"], min_tokens=m), [1]), ids) for m in (0, 3)]
    assert runs == [("", "ab", 2), ("abc", "ab", 5)]


def test_the_engine_keeps_going_past_a_stop_token_until_min_tokens(tiny_llama_dir: Path) -> None:
    llm = LLM(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=64)
    greedy = dict(temperature=0.0, max_tokens=8, ignore_eos=True)
    free = llm.generate("Once upon", SamplingParams(**greedy))[0].outputs[0].token_ids
    stop = free[1]
    early = llm.generate("Once upon", SamplingParams(stop_token_ids=[stop], **greedy))[0].outputs[0]
    held = llm.generate("Once upon", SamplingParams(stop_token_ids=[stop], min_tokens=4, **greedy))[0].outputs[0]
    assert early.finish_reason == "stop" and len(early.token_ids) <= 2
    assert len(held.token_ids) >= 4 and stop not in held.token_ids[:4]
    assert held.finish_reason == "length" or held.token_ids[-1] == stop
