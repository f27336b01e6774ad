"""A bf16 decode step in one kernel call (engine/decode_stack.py) equals the fused layers bit for bit:
teacher-forced logits of the bare model, and every step's logits of a mixed-adapter batch.

Only on hosts whose kernels build the pair GEMM (AVX512-BF16): elsewhere the stack is never installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lora_testing import LORA_CONFIG, adapters
from test_lora_engine import ROWS, prompts
from test_model_parity import _prompts, _runner, _teacher_forced

from engine.config import EngineConfig
from engine.decode_stack import LayerStack
from engine.llm_engine import LLMEngine
from engine.sampling_params import SamplingParams
from kernels.cpu_ext import cpu_ops

pytestmark = pytest.mark.skipif(cpu_ops() is None or not cpu_ops().has_pair_gemm(),
                                reason="the decode stack needs the pair GEMM (a CPU with AVX512-BF16)")


def _without_stack(model: torch.nn.Module) -> None:
    assert isinstance(model.run_layers, LayerStack)
    del model.run_layers  # back to Transformer.run_layers: the fused layers one by one


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_bf16_decode_steps_equal_the_fused_layers(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(fixture)
    prompts_, follow = _prompts([5, 9, 3]), _prompts([12, 12, 12])
    stacked, layered = (_runner(model_dir, True, torch.bfloat16) for _ in range(2))
    _without_stack(layered.model)
    ours, theirs = _teacher_forced(stacked, prompts_, follow), _teacher_forced(layered, prompts_, follow)
    assert stacked.model.run_layers._stack is not None  # the decode steps ran the stack
    for mine, reference in zip(ours, theirs):
        assert len(mine) == 13 and all(torch.equal(a, b) for a, b in zip(mine, reference))


def _step_logits(engine: LLMEngine) -> list[torch.Tensor]:
    """Every step's logits until the engine is done."""
    seen, forward = [], engine.runner.forward
    engine.runner.forward = lambda plan: seen.append(forward(plan)) or seen[-1]
    while engine.has_unfinished_requests():
        engine.step()
    return seen


def test_bf16_mixed_adapter_decode_equals_the_fused_layers(tiny_llama_dir: Path, tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    engines = [LLMEngine(EngineConfig(model=str(tiny_llama_dir), dtype="bfloat16", device="cpu", max_model_len=64,
                                      kv_cache_memory=16 << 20, **LORA_CONFIG)) for _ in range(2)]
    _without_stack(engines[1].runner.model)
    for engine in engines:
        for i, (prompt, name) in enumerate(zip(prompts(len(ROWS), 6), ROWS)):
            engine.add_request(f"r{i}", prompt, SamplingParams(max_tokens=10, temperature=0, ignore_eos=True),
                               requests.get(name))
    ours, theirs = (_step_logits(engine) for engine in engines)
    assert engines[0].runner.model.run_layers._stack is not None
    assert len(ours) == len(theirs) >= 10 and all(torch.equal(a, b) for a, b in zip(ours, theirs))
