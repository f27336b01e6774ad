"""The real embedded SmolLM2-135M: batched greedy output == transformers' greedy generate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import LLM, SamplingParams

QUESTIONS = ["Write a short poem about GPUs", "What is the capital of France?",
             "Give me three tips for writing clearly.", "Tell a joke about a cat who learns to code."]


@pytest.mark.slow
def test_four_prompts_in_one_batch_equal_transformers_greedy(embedded_model_dir: Path) -> None:
    llm = LLM(model=str(embedded_model_dir), dtype="float32", device="cpu", max_model_len=512, num_threads=1)
    convs = [[{"role": "user", "content": q}] for q in QUESTIONS]
    outs = llm.chat(convs, SamplingParams(temperature=0, max_tokens=32))
    ref = AutoModelForCausalLM.from_pretrained(embedded_model_dir, dtype=torch.float32).eval()
    for out in outs:
        x = torch.tensor([out.prompt_token_ids])
        expected = ref.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=32,
                                pad_token_id=0)[0, x.shape[1]:].tolist()
        assert out.outputs[0].token_ids == expected
    assert outs[0].outputs[0].text.startswith("In the depths of my soul, a GPU is a machine")
