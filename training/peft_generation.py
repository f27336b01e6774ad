"""Batched greedy generation for the evaluation, with PEFT's mixed-adapter batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from training.chat_format import prompt_text

BASE = "__base__"  # PEFT's adapter name for "no adapter" in a mixed batch


def load_with_adapters(model_dir: Path, adapters: Mapping[str, Path]):
    """(tokenizer, PeftModel in eval mode) with every adapter loaded under its style id."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not adapters:
        raise ValueError("no trained adapters to evaluate")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    (first, first_path), *rest = adapters.items()
    model = PeftModel.from_pretrained(base, first_path, adapter_name=first)
    for name, path in rest:
        model.load_adapter(path, adapter_name=name)
    return tokenizer, model.eval()


@torch.no_grad()
def generate(
    tokenizer, model, system: str, requests: Sequence[str], adapter_names: Sequence[str], max_new_tokens: int
) -> list[str]:
    """One greedy reply per (request, adapter name) row, all rows in one batch."""
    if len(requests) != len(adapter_names):
        raise ValueError(f"{len(requests)} requests but {len(adapter_names)} adapter names")
    prompts = [prompt_text(tokenizer, system, r) for r in requests]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(
        **batch, adapter_names=list(adapter_names), max_new_tokens=max_new_tokens, do_sample=False,
        repetition_penalty=1.1, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    new_tokens = out[:, batch["input_ids"].shape[1] :]  # (B, new)
    return [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
