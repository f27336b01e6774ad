"""Our decoder over the paged cache == transformers, logit for logit (fp32, tiny random models)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.block_manager import BlockManager
from engine.kv_cache import allocate_kv_cache
from engine.loader import load_model
from engine.model_runner import ModelRunner
from engine.scheduler import Scheduler
from engine.sampling_params import SamplingParams
from engine.sequence import Sequence
from tests.conftest import make_tiny_model_dir

BLOCK = 4


def _runner(model_dir: Path, num_blocks: int = 64) -> ModelRunner:
    model = load_model(model_dir, torch.float32, "cpu")
    allocate_kv_cache(model, num_blocks, BLOCK)
    return ModelRunner(model, BLOCK)


def _reference_logits(model_dir: Path, tokens: list[int]) -> torch.Tensor:
    """transformers' logits ``[len(tokens), V]`` for one full sequence, no cache."""
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        return ref(torch.tensor([tokens])).logits[0]


def _teacher_forced(runner: ModelRunner, prompts: list[list[int]], follow: list[list[int]],
                    token_budget: int = 1000) -> list[list[torch.Tensor]]:
    """Run prompts together, appending the given tokens after each sample; logits per seq per sample."""
    scheduler = Scheduler(BlockManager(64, BLOCK), max_num_seqs=8, max_num_batched_tokens=token_budget)
    seqs = [Sequence(i, str(i), list(p), SamplingParams(temperature=0)) for i, p in enumerate(prompts)]
    for seq in seqs:
        scheduler.add(seq)
    got: list[list[torch.Tensor]] = [[] for _ in seqs]
    while scheduler.has_unfinished():
        plan = scheduler.schedule().scheduled
        logits = runner.forward(plan)
        for s, row in zip([s for s in plan if s.samples], logits):
            got[s.seq.seq_id].append(row)
            step = len(s.seq.output_ids)
            if step == len(follow[s.seq.seq_id]):
                scheduler.finish(s.seq)
            else:
                s.seq.output_ids.append(follow[s.seq.seq_id][step])
    return got


def _check(model_dir: Path, prompts: list[list[int]], n_decode: int, token_budget: int = 1000) -> None:
    gen = torch.Generator().manual_seed(1)
    follow = [torch.randint(0, 256, (n_decode,), generator=gen).tolist() for _ in prompts]
    got = _teacher_forced(_runner(model_dir), prompts, follow, token_budget)
    for prompt, extra, ours in zip(prompts, follow, got):
        ref = _reference_logits(model_dir, prompt + extra)[len(prompt) - 1:]  # prefill then every decode step
        assert len(ours) == n_decode + 1
        torch.testing.assert_close(torch.stack(ours), ref, atol=1e-4, rtol=1e-4)


def _prompts(lengths: list[int]) -> list[list[int]]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (n,), generator=gen).tolist() for n in lengths]


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_single_sequence_prefill_and_every_decode_step(fixture: str, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([13]), n_decode=12)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_ragged_batch_equals_each_sequence_alone(fixture: str, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([5, 17, 1, 9]), n_decode=8)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_chunked_prefill_matches(fixture: str, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([23, 11]), n_decode=4, token_budget=7)


def test_llama3_rope_scaling_and_tied_embeddings(tmp_path: Path) -> None:
    rope = {"rope_type": "llama3", "rope_theta": 50000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
    model_dir = make_tiny_model_dir(tmp_path / "m", "llama", rope_parameters=rope, tie_word_embeddings=True)
    _check(model_dir, _prompts([20, 6]), n_decode=6)
