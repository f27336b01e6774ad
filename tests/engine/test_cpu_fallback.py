"""Without the compiled CPU kernels (build failed, or INKWELL_CPU_KERNELS=0) the engine runs the torch
path and produces the same greedy tokens, with and without adapters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lora_testing import hf_model, write_adapter

from kernels.cpu_ext import cpu_ops

pytestmark = pytest.mark.skipif(cpu_ops() is None, reason="compare needs the kernels built")

SCRIPT = """
import json, sys
from engine import LLM, LoRARequest, SamplingParams
from kernels.cpu_ext import cpu_ops
model, adapter = sys.argv[1], sys.argv[2]
llm = LLM(model=model, dtype="float32", device="cpu", max_model_len=128, enable_lora=True, max_loras=2, max_lora_rank=8)
params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
prompts = [{"prompt_token_ids": p} for p in ([5, 9, 33, 2, 70], list(range(100, 121)))]
lora = [None, LoRARequest("a", adapter)]
out = llm.generate(prompts, params, lora_request=lora)
print(json.dumps({"kernels": cpu_ops() is not None, "tokens": [o.outputs[0].token_ids for o in out]}))
"""


def _run(model: Path, adapter: Path, kernels: bool) -> dict:
    env = {**os.environ, "INKWELL_CPU_KERNELS": "1" if kernels else "0", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(model), str(adapter)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_torch_path_gives_the_same_tokens(tiny_llama_dir: Path, tmp_path: Path) -> None:
    adapter = write_adapter(tmp_path / "a", seed=3, b_scale=0.25, base=lambda: hf_model(tiny_llama_dir))
    fast, fallback = _run(tiny_llama_dir, adapter, True), _run(tiny_llama_dir, adapter, False)
    assert fast["kernels"] and not fallback["kernels"]
    assert fast["tokens"] == fallback["tokens"]
    assert all(len(t) == 12 for t in fast["tokens"])
