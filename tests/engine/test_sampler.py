"""Sampler tests: references are transformers' logits processors and plain-Python computations."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import MinPLogitsWarper, RepetitionPenaltyLogitsProcessor, TopKLogitsWarper, TopPLogitsWarper

from engine import logits_processors as lp
from engine.sampler import SampleRow, Sampler, make_generator
from engine.sampling_params import SamplingParams

VOCAB = 64


def _logits(rows: int, seed: int = 0, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 3


def _row(seed: int | None = None, prompt: list[int] | None = None, output: list[int] | None = None,
         **params: float) -> SampleRow:
    return SampleRow(SamplingParams(seed=seed, **params), make_generator(seed), prompt or [], output or [])


def _kept(logits: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(logits)


def test_greedy_equals_argmax() -> None:
    logits = _logits(5)
    tokens = Sampler()(logits, [_row(temperature=0.0) for _ in range(5)])
    assert [t.token_id for t in tokens] == logits.argmax(-1).tolist()
    assert all(t.logprob is None for t in tokens)


def test_input_logits_are_not_modified() -> None:
    logits = _logits(3)
    before = logits.clone()
    Sampler()(logits, [_row(temperature=0.7, top_k=5, repetition_penalty=1.3, presence_penalty=0.5,
                            output=[1, 2], min_p=0.1) for _ in range(3)])
    assert torch.equal(logits, before)


def _run_steps(logit_steps: list[torch.Tensor], make_rows: list, position: int) -> list[int]:
    """Sample several steps; return the tokens of the row at ``position`` (rows persist across steps)."""
    rows, sampler, picked = [make() for make in make_rows], Sampler(), []
    for step in logit_steps:
        tokens = sampler(step, rows)
        for row, token in zip(rows, tokens):
            row.output_ids.append(token.token_id)
        picked.append(tokens[position].token_id)
    return picked


@pytest.mark.parametrize("position", [0, 2, 4])
def test_seeded_row_is_independent_of_batch_company_and_position(position: int) -> None:
    target_params = dict(seed=1234, temperature=0.9, top_p=0.95, top_k=40, repetition_penalty=1.1)
    steps_alone = [_logits(1, seed=s) for s in range(12)]
    alone = _run_steps(steps_alone, [lambda: _row(**target_params)], 0)
    company = [lambda: _row(seed=7, temperature=1.3), lambda: _row(temperature=0.5, min_p=0.05),
               lambda: _row(temperature=0.0), lambda: _row(seed=99, top_k=3, frequency_penalty=1.0)]
    company.insert(position, lambda: _row(**target_params))
    steps_batched = []
    for s, single in enumerate(steps_alone):
        batch = _logits(5, seed=100 + s)
        batch[position] = single[0]
        steps_batched.append(batch)
    assert _run_steps(steps_batched, company, position) == alone


def test_same_seed_repeats_and_different_seeds_differ() -> None:
    steps = [torch.zeros(1, 1000)] * 8  # uniform: two independent runs of 8 draws practically never agree
    runs = {seed: _run_steps(steps, [lambda s=seed: _row(seed=s)], 0) for seed in (1, 1, 2)}
    again = _run_steps(steps, [lambda: _row(seed=1)], 0)
    assert runs[1] == again
    assert runs[1] != runs[2]


@pytest.mark.parametrize("seeded", [False, True])
def test_draws_follow_the_tempered_distribution(seeded: bool) -> None:
    base = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    count = 4000 if seeded else 20000
    rows = [_row(seed=i if seeded else None, temperature=0.7) for i in range(count)]
    tokens = torch.tensor([t.token_id for t in Sampler()(base.expand(count, -1).clone(), rows)])
    observed = torch.bincount(tokens, minlength=6).float() / count
    expected = torch.softmax(base / 0.7, dim=-1)
    assert torch.allclose(observed, expected, atol=4.0 / math.sqrt(count))


def test_samples_stay_inside_the_truncated_set() -> None:
    logits = _logits(1).expand(400, -1).clone()
    tokens = Sampler()(logits, [_row(temperature=2.0, top_k=3) for _ in range(400)])
    assert {t.token_id for t in tokens} == set(logits[0].topk(3).indices.tolist())


@pytest.mark.parametrize("top_k", [1, 5, 17, 63, 64])
def test_top_k_matches_transformers(top_k: int) -> None:
    logits = _logits(4)
    logits[0, :3] = 10.0  # a tie at the top
    ours = lp.apply_top_k_top_p(logits, torch.full((4,), top_k), torch.ones(4))
    reference = TopKLogitsWarper(top_k=top_k)(None, logits.clone())
    assert torch.equal(_kept(ours), _kept(reference))
    assert torch.equal(ours[_kept(ours)], logits[_kept(ours)])


def test_top_k_matches_plain_reference_per_row() -> None:
    logits, ks = _logits(6), [1, 2, 4, 8, 16, VOCAB]
    ours = lp.apply_top_k_top_p(logits, torch.tensor(ks), torch.ones(6))
    for row, k in enumerate(ks):
        kth = sorted(logits[row].tolist(), reverse=True)[k - 1]
        assert _kept(ours[row]).tolist() == [x >= kth for x in logits[row].tolist()]


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.8, 0.95, 1.0])
def test_top_p_matches_transformers(top_p: float) -> None:
    logits = _logits(4, seed=3)
    ours = lp.apply_top_k_top_p(logits, torch.full((4,), VOCAB), torch.full((4,), top_p))
    reference = TopPLogitsWarper(top_p=top_p)(None, logits.clone())
    assert torch.equal(_kept(ours), _kept(reference))


def test_top_p_matches_plain_reference_per_row() -> None:
    logits, ps = _logits(5, seed=4).double(), [0.1, 0.42, 0.7, 0.9, 0.99]
    ours = lp.apply_top_k_top_p(logits, torch.full((5,), VOCAB), torch.tensor(ps, dtype=torch.double))
    for row, p in enumerate(ps):
        probs = torch.softmax(logits[row], -1).tolist()
        keep, mass = set(), 0.0
        for token in sorted(range(VOCAB), key=lambda t: -probs[t]):  # smallest set reaching mass p
            keep.add(token)
            mass += probs[token]
            if mass >= p:
                break
        assert set(torch.nonzero(_kept(ours[row])).flatten().tolist()) == keep


@pytest.mark.parametrize("windows", [(2,), (4, 16), (512, 4096)])
def test_windowed_cut_equals_transformers_whatever_the_windows(windows: tuple[int, ...]) -> None:
    logits = torch.cat([_logits(4, seed=11), _logits(4, seed=12) * 0.05])  # peaked rows and flat rows
    logits[0, :5] = 9.0  # ties around the k-th value
    ks, ps = [3, VOCAB, 1, 20, 5, VOCAB, VOCAB, 40], [1.0, 0.5, 0.9, 0.95, 1.0, 0.3, 0.9, 0.99]
    ours = lp.apply_top_k_top_p(logits, torch.tensor(ks), torch.tensor(ps), windows=windows)
    for row, (k, p) in enumerate(zip(ks, ps)):
        reference = TopPLogitsWarper(p)(None, TopKLogitsWarper(k)(None, logits[row:row + 1].clone()))
        assert torch.equal(_kept(ours[row:row + 1]), _kept(reference)), row
        assert torch.equal(ours[row][_kept(ours[row])], logits[row][_kept(ours[row])])


def test_top_k_then_top_p_matches_transformers_chain() -> None:
    logits, ks, ps = _logits(3, seed=5), [4, 10, 30], [0.6, 0.9, 0.5]
    ours = lp.apply_top_k_top_p(logits, torch.tensor(ks), torch.tensor(ps))
    for row in range(3):
        chained = TopPLogitsWarper(ps[row])(None, TopKLogitsWarper(ks[row])(None, logits[row:row + 1].clone()))
        assert torch.equal(_kept(ours[row:row + 1]), _kept(chained))


@pytest.mark.parametrize("min_p", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_min_p_matches_transformers_and_plain_reference(min_p: float) -> None:
    logits = _logits(4, seed=6)
    ours = lp.apply_min_p(logits, torch.full((4,), min_p))
    if min_p > 0:  # transformers refuses min_p == 0
        assert torch.equal(_kept(ours), _kept(MinPLogitsWarper(min_p)(None, logits.clone())))
    probs = torch.softmax(logits, -1)
    assert torch.equal(_kept(ours), probs >= min_p * probs.max(-1, keepdim=True).values)


def test_repetition_penalty_matches_transformers() -> None:
    logits, penalty = _logits(3, seed=7), 1.7
    history = [[1, 5, 5, 9], [0, 63, 2, 2], [10, 11, 12, 13]]
    ours = lp.apply_repetition_penalty(logits, history, torch.full((3,), penalty))
    reference = RepetitionPenaltyLogitsProcessor(penalty)(torch.tensor(history), logits.clone())
    torch.testing.assert_close(ours, reference, rtol=0, atol=0)


def test_repetition_penalty_on_ragged_and_empty_histories() -> None:
    logits, penalty = _logits(3, seed=10), torch.tensor([1.5, 2.0, 0.5])
    history = [[4, 4, 0], [], [7, 8, 9, 10, 11, 7]]
    expected = logits.clone()
    for row, ids in enumerate(history):
        for token in set(ids):
            value, p = logits[row, token].item(), penalty[row].item()
            expected[row, token] = value / p if value > 0 else value * p
    torch.testing.assert_close(lp.apply_repetition_penalty(logits, history, penalty), expected)


def test_presence_and_frequency_penalties_follow_openai() -> None:
    logits, outputs = _logits(3, seed=8), [[3, 3, 3, 7, 11, 11], [], [5, 0]]
    presence, frequency = torch.tensor([0.4, 1.0, -0.5]), torch.tensor([0.25, 1.0, 2.0])
    ours = lp.apply_presence_frequency(logits, outputs, presence, frequency)
    expected = logits.clone()
    for row, ids in enumerate(outputs):
        for token in set(ids):
            expected[row, token] -= presence[row] + frequency[row] * ids.count(token)
    torch.testing.assert_close(ours, expected)


def test_penalties_apply_per_row_in_a_mixed_batch() -> None:
    logits = torch.zeros(3, VOCAB)
    logits[:, 5], logits[:, 6] = 2.0, 1.9
    rows = [_row(temperature=0.0, output=[5], repetition_penalty=1.2),
            _row(temperature=0.0, output=[5], presence_penalty=0.5),
            _row(temperature=0.0, output=[5])]
    assert [t.token_id for t in Sampler()(logits, rows)] == [6, 6, 5]


def test_repetition_penalty_covers_the_prompt() -> None:
    logits = torch.zeros(1, VOCAB)
    logits[0, 5], logits[0, 6] = 2.0, 1.9
    row = _row(temperature=0.0, prompt=[5], repetition_penalty=1.2, presence_penalty=0.0)
    assert Sampler()(logits, [row])[0].token_id == 6


def test_logprobs_equal_log_softmax_after_temperature() -> None:
    logits = _logits(3, seed=9)
    rows = [_row(seed=1, temperature=0.6, logprobs=5), _row(temperature=0.0, logprobs=0), _row(temperature=0.8)]
    tokens = Sampler()(logits, rows)
    for row, temperature in ((0, 0.6), (1, 1.0)):
        reference = torch.log_softmax(logits[row] / temperature, -1)
        record = tokens[row].logprob
        assert record.token_id == tokens[row].token_id
        assert record.logprob == pytest.approx(reference[record.token_id].item(), abs=1e-6)
        k = rows[row].params.logprobs
        assert list(record.top) == reference.topk(k).indices.tolist()
        assert list(record.top.values()) == pytest.approx(reference.topk(k).values.tolist(), abs=1e-6)
    assert tokens[2].logprob is None


def test_bad_logits_shape_is_named() -> None:
    with pytest.raises(ValueError, match="logits must be"):
        Sampler()(torch.zeros(2, VOCAB), [_row()])
    with pytest.raises(ValueError, match="logits must be"):
        Sampler()(torch.zeros(VOCAB), [_row()])
