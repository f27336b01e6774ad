"""No-repeat-n-gram blocking: a row never emits a token n-gram it already produced (reference: transformers)."""

from __future__ import annotations

import pytest
import torch
from transformers import NoRepeatNGramLogitsProcessor

from engine import logits_processors as lp
from engine.sampler import SampleRow, Sampler
from engine.sampling_params import SamplingParams

VOCAB = 16


def test_banned_tokens_are_those_that_followed_the_current_tail() -> None:
    ids = [1, 2, 3, 1, 2, 4, 1, 2]
    assert sorted(lp.banned_ngram_tokens(ids, 3)) == [3, 4]  # "1 2" was followed by 3 and by 4
    assert lp.banned_ngram_tokens(ids, 1) == ids  # unigrams: every seen token
    assert lp.banned_ngram_tokens([1, 2], 3) == [] and lp.banned_ngram_tokens(ids, 0) == []


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_matches_transformers_on_random_histories(size: int) -> None:
    gen = torch.Generator().manual_seed(size)
    histories = [torch.randint(0, 5, (length,), generator=gen).tolist() for length in (0, 3, 9, 20)]
    logits = torch.randn(len(histories), VOCAB, generator=gen)
    ours = lp.apply_no_repeat_ngram(logits, histories, [size] * len(histories))
    for row, ids in enumerate(histories):
        reference = NoRepeatNGramLogitsProcessor(size)(torch.tensor([ids], dtype=torch.long), logits[row:row + 1].clone())
        assert torch.equal(torch.isinf(ours[row]), torch.isinf(reference[0])), ids
        assert torch.equal(ours[row][torch.isfinite(ours[row])], logits[row][torch.isfinite(ours[row])])


def test_greedy_row_with_blocking_never_repeats_a_trigram_other_rows_untouched() -> None:
    logits = torch.zeros(2, VOCAB)
    logits[:, 7] = 5.0  # both rows would pick 7 greedily
    history = [7, 7]  # the bigram "7 7" is in the output
    rows = [SampleRow(SamplingParams(temperature=0.0, no_repeat_ngram_size=2), None, [], history),
            SampleRow(SamplingParams(temperature=0.0), None, [], history)]
    tokens = Sampler()(logits, rows)
    assert tokens[0].token_id != 7  # the bigram "7 7" already occurred
    assert tokens[1].token_id == 7


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        SamplingParams(no_repeat_ngram_size=-1)
