"""The peer benchmark's workload: token-id prompts, random PEFT adapters, and per-row adapter choices.

Every system gets exactly the same token ids. Each (config, repeat) has its own prompt set, so a
prefix cache (vLLM's is on by default) never turns a repeat into a cache hit; the first repeat of a
config is what the token-identity check compares across systems.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_STD = 0.04  # A and B re-drawn with this std: outputs change but stay fluent
BASE_CONFIGS = ("base", "lora-none")  # configs that run without any adapter


@dataclass(frozen=True)
class Workload:
    """``requests`` prompts of ``prompt_len`` random token ids, each generating ``max_tokens`` greedy tokens."""

    requests: int
    prompt_len: int
    max_tokens: int
    vocab_size: int
    seed: int = 0

    @property
    def tokens(self) -> int:
        """Generated tokens per run (EOS ignored, so always requests x max_tokens)."""
        return self.requests * self.max_tokens

    def prompts(self, tag: str) -> list[list[int]]:
        """The prompt set named ``tag`` (same ids for every system): ``[requests][prompt_len]``."""
        rng = random.Random(self.seed * 1_000_003 + zlib.crc32(tag.encode()))
        low, high = min(100, self.vocab_size // 2), min(self.vocab_size, 20000)
        return [[rng.randrange(low, high) for _ in range(self.prompt_len)] for _ in range(self.requests)]


def mixed_config(count: int) -> str:
    """The config name of a round-robin batch over ``count`` adapters."""
    return f"mixed{count}"


def row_adapters(config: str, folders: list[Path], requests: int) -> list[str | None]:
    """The adapter folder (or None) of each row: none, ``one`` for all rows, or ``mixedK`` round-robin."""
    if config in BASE_CONFIGS:
        return [None] * requests
    count = 1 if config == "one" else int(config.removeprefix("mixed"))
    if count > len(folders):
        raise ValueError(f"config {config!r} needs {count} adapters, only {len(folders)} written")
    return [str(folders[i % count]) for i in range(requests)]


def write_adapters(model_dir: Path, count: int, rank: int, cache: Path) -> list[Path]:
    """``count`` random rank-``rank`` PEFT adapters on all 7 projections under ``cache`` (reused when present).

    Each is ``LoraConfig(init_lora_weights=False)`` with every lora_A and lora_B re-drawn from
    N(0, ADAPTER_STD) with seed i, saved by PEFT's ``save_pretrained``.
    """
    root = cache / f"{model_dir.name}-r{rank}-std{ADAPTER_STD}"
    folders = [root / f"a{i}" for i in range(count)]
    missing = [i for i, f in enumerate(folders) if not (f / "adapter_model.safetensors").exists()]
    if missing:
        _write_missing(model_dir, rank, folders, missing)
    return folders


def _write_missing(model_dir: Path, rank: int, folders: list[Path], missing: list[int]) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=list(TARGET_MODULES), init_lora_weights=False,
                        task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    for i in missing:
        gen = torch.Generator().manual_seed(i)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if ".lora_A." in name or ".lora_B." in name:
                    param.copy_(torch.randn(param.shape, generator=gen) * ADAPTER_STD)
        model.save_pretrained(folders[i], safe_serialization=True)
