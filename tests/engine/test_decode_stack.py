"""A decode step in one kernel call (engine/decode_stack.py) equals the fused layers bit for bit, in fp32
(oneDNN's packed matmul) and bf16 (the pair GEMM, or oneDNN where the host packs bf16): teacher-forced
logits of the bare model, and every step's logits of a mixed-adapter batch."""

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

pytestmark = pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")
DTYPES = [torch.float32, torch.bfloat16]


def _without_stack(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Back to Transformer.run_layers (the fused layers one by one) on a model the stack was set on."""
    if not isinstance(model.run_layers, LayerStack):
        assert dtype == torch.bfloat16, "fp32 linears are always packed, so the stack applies"
        pytest.skip("bf16 linears are not packed on this CPU (no AVX512-BF16 or AMX): no stack")
    del model.run_layers


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_decode_steps_equal_the_fused_layers(fixture: str, dtype: torch.dtype, request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(fixture)
    prompts_, follow = _prompts([5, 9, 3]), _prompts([12, 4, 8])  # the last steps decode one row
    stacked, layered = (_runner(model_dir, True, dtype) for _ in range(2))
    _without_stack(layered.model, dtype)
    ours, theirs = _teacher_forced(stacked, prompts_, follow), _teacher_forced(layered, prompts_, follow)
    assert stacked.model.run_layers._stack is not None  # the decode steps ran the stack
    for mine, reference, extra in zip(ours, theirs, follow):
        assert len(mine) == len(extra) + 1 and all(torch.equal(a, b) for a, b in zip(mine, reference))


def _step_logits(engine: LLMEngine) -> list[torch.Tensor]:
    """Every step's logits until the engine is done."""
    seen, forward = [], engine.runner.forward
    engine.runner.forward = lambda plan: seen.append(forward(plan)) or seen[-1]
    while engine.has_unfinished_requests():
        engine.step()
    return seen


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_adapter_decode_equals_the_fused_layers(dtype: torch.dtype, tiny_llama_dir: Path, tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    engines = [LLMEngine(EngineConfig(model=str(tiny_llama_dir), dtype=str(dtype).removeprefix("torch."),
                                      device="cpu", max_model_len=64, kv_cache_memory=16 << 20, **LORA_CONFIG))
               for _ in range(2)]
    _without_stack(engines[1].runner.model, dtype)
    for engine in engines:
        for i, (prompt, name) in enumerate(zip(prompts(len(ROWS), 6), ROWS)):
            engine.add_request(f"r{i}", prompt, SamplingParams(max_tokens=10, temperature=0, ignore_eos=True),
                               requests.get(name))
    ours, theirs = (_step_logits(engine) for engine in engines)
    assert engines[0].runner.model.run_layers._stack is not None
    assert len(ours) == len(theirs) >= 10 and all(torch.equal(a, b) for a, b in zip(ours, theirs))
