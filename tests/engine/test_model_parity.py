"""Our decoder over the paged cache == transformers, logit for logit (tiny random models).

Every check runs twice: the eager model of engine/model.py, and the model with the CPU speed-ups the
engine applies (oneDNN-packed linears, decoder layers and the final norm on the fused C++ kernels). fp32 within 1e-4;
bf16 against transformers bf16 within the tolerance stated at ``BF16_TOL``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.block_manager import BlockManager
from engine.cpu_layers import FusedDecoderLayer, FusedRMSNorm
from engine.cpu_speedups import speed_up_cpu
from engine.kv_cache import allocate_kv_cache
from engine.loader import load_model
from engine.model import RMSNorm
from engine.model_runner import ModelRunner
from engine.scheduler import Scheduler
from engine.sampling_params import SamplingParams
from engine.sequence import Sequence
from kernels.cpu_ext import cpu_ops
from tests.conftest import make_tiny_model_dir

BLOCK = 4
# bf16 (stated tolerance): our logits are within 3 % (relative L2) of transformers' bf16 logits, and no
# further from the fp32 logits than transformers' bf16 logits are (x 1.25). Measured: 1.0-1.8 % and ~2 %.
BF16_TO_HF, BF16_VS_FP32 = 0.03, 1.25


@pytest.fixture(params=["eager", "fused"])
def fast(request: pytest.FixtureRequest) -> bool:
    """Run a check on the eager model and on the engine's CPU speed-ups."""
    if request.param == "fused" and cpu_ops() is None:
        pytest.skip("the CPU kernels could not be built")
    return request.param == "fused"


def _runner(model_dir: Path, fast: bool, dtype: torch.dtype = torch.float32, num_blocks: int = 64) -> ModelRunner:
    model = load_model(model_dir, dtype, "cpu")
    allocate_kv_cache(model, num_blocks, BLOCK)
    if fast:
        speed_up_cpu(model, str(dtype).removeprefix("torch."))
        assert all(isinstance(layer, FusedDecoderLayer) for layer in model.layers)
        assert isinstance(model.norm, FusedRMSNorm)
    return ModelRunner(model, BLOCK)


@pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_fused_final_norm_equals_the_eager_one(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    norm = RMSNorm(48, 1e-5)
    norm.weight.data = (1 + torch.randn(48, generator=gen)).to(dtype)
    x = (3 * torch.randn(5, 48, generator=gen)).to(dtype)
    fused = FusedRMSNorm(norm, cpu_ops())(x)
    assert fused.dtype == dtype and fused.shape == x.shape
    # the same roundings (normalised value, then times the weight); sums of squares in another order
    tol = dict(atol=1e-6, rtol=1e-6) if dtype == torch.float32 else dict(atol=0, rtol=2**-7)
    torch.testing.assert_close(fused.float(), norm(x).float(), **tol)


def _reference_logits(model_dir: Path, tokens: list[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """transformers' logits ``[len(tokens), V]`` for one full sequence, no cache."""
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
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


def _check(model_dir: Path, prompts: list[list[int]], n_decode: int, fast: bool, token_budget: int = 1000,
           dtype: torch.dtype = torch.float32) -> None:
    gen = torch.Generator().manual_seed(1)
    follow = [torch.randint(0, 256, (n_decode,), generator=gen).tolist() for _ in prompts]
    got = _teacher_forced(_runner(model_dir, fast, dtype), prompts, follow, token_budget)
    for prompt, extra, ours in zip(prompts, follow, got):
        ref = _reference_logits(model_dir, prompt + extra)[len(prompt) - 1:]  # prefill, every decode step
        assert len(ours) == n_decode + 1
        if dtype == torch.float32:
            torch.testing.assert_close(torch.stack(ours), ref, atol=1e-4, rtol=1e-4)
        else:
            ref16 = _reference_logits(model_dir, prompt + extra, dtype)[len(prompt) - 1:].float()
            _check_bf16(torch.stack(ours).float(), ref16, ref)


def _check_bf16(ours: torch.Tensor, ref16: torch.Tensor, ref32: torch.Tensor) -> None:
    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm())

    assert rel(ours, ref16) <= BF16_TO_HF, f"bf16 logits {rel(ours, ref16):.4f} from transformers bf16"
    assert rel(ours, ref32) <= BF16_VS_FP32 * rel(ref16, ref32), (
        f"bf16 error vs fp32 {rel(ours, ref32):.4f}, transformers bf16 has {rel(ref16, ref32):.4f}")


def _prompts(lengths: list[int]) -> list[list[int]]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (n,), generator=gen).tolist() for n in lengths]


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_single_sequence_prefill_and_every_decode_step(fixture: str, fast: bool,
                                                       request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([13]), n_decode=12, fast=fast)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_ragged_batch_equals_each_sequence_alone(fixture: str, fast: bool, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([5, 17, 1, 9]), n_decode=8, fast=fast)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_bf16_matches_transformers_bf16(fixture: str, fast: bool, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([5, 17, 9]), n_decode=8, fast=fast, dtype=torch.bfloat16)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_chunked_prefill_matches(fixture: str, fast: bool, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(fixture), _prompts([23, 11]), n_decode=4, fast=fast, token_budget=7)


def test_llama3_rope_scaling_and_tied_embeddings(tmp_path: Path, fast: bool) -> None:
    rope = {"rope_type": "llama3", "rope_theta": 50000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
    model_dir = make_tiny_model_dir(tmp_path / "m", "llama", rope_parameters=rope, tie_word_embeddings=True)
    _check(model_dir, _prompts([20, 6]), n_decode=6, fast=fast)
