"""Helpers for the LoRA tests: a tiny random Llama and PEFT adapter folders written by PEFT itself."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from engine.lora.request import LoRARequest

ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TINY = dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer random Llama (GQA 4/2 heads) in eval mode."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**TINY)).eval()


def hf_model(model_dir: Path) -> nn.Module:
    """The Hugging Face model of a checkpoint folder, fp32, eval mode."""
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def write_adapter(folder: Path, *, seed: int, r: int = 8, alpha: int = 16, targets: list[str] = ALL_TARGETS,
                  use_rslora: bool = False, b_scale: float = 1.0, layers: list[int] | None = None,
                  base: Callable[[], nn.Module] = tiny_llama) -> Path:
    """Save a random PEFT LoRA adapter for the model ``base()`` builds (non-zero B: a visible delta), on
    every layer or on ``layers`` only."""
    model = get_peft_model(base(), LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, layers_to_transform=layers,
                                              use_rslora=use_rslora, init_lora_weights=False))
    torch.manual_seed(seed)
    for name, param in model.named_parameters():
        if "lora_" in name:
            param.data = torch.randn_like(param) * (0.3 if "lora_A" in name else 0.3 * b_scale)
    model.save_pretrained(folder)
    return folder


SPECS = {"ad1": dict(r=8, alpha=16), "ad2": dict(r=4, alpha=8, use_rslora=True),
         "ad3": dict(r=16, alpha=16, targets=["q_proj", "v_proj"])}
LORA_CONFIG = dict(enable_lora=True, max_loras=3, max_lora_rank=16, max_cpu_loras=4)


def adapters(model_dir: Path, root: Path, b_scale: float = 0.5) -> dict[str, LoRARequest]:
    """Write the three PEFT adapters ``SPECS`` for ``model_dir``; one LoRARequest each."""
    base = partial(hf_model, model_dir)
    return {name: LoRARequest(name, str(write_adapter(root / name, seed=i, base=base, b_scale=b_scale, **spec)))
            for i, (name, spec) in enumerate(SPECS.items())}
