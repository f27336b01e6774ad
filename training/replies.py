"""Replies through Inkwell's own engine (``engine.LLM``), as a writer gets them: adapter or base, one batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from engine.lora.request import LoRARequest
from engine.sampling_params import SamplingParams
from training.chat_format import conversation

GREEDY = SamplingParams(temperature=0.0)  # plain greedy: no penalty, no n-gram blocking


def open_engine(model_dir: Path, threads: int | None = None, max_loras: int = 8):
    """An ``engine.LLM`` on the base model with LoRA enabled (fp32, rank up to 16, ``max_loras`` adapters in
    one batch, KV room for 48 replies)."""
    from engine.llm import LLM

    return LLM(model=str(model_dir), dtype="float32", enable_lora=True, max_lora_rank=16, max_num_seqs=48,
               max_loras=max_loras, kv_cache_memory=768 * 1024**2, num_threads=threads)


def adapter_request(style, lora_scale: float = 1.0) -> LoRARequest:
    """The style's adapter at ``lora_scale`` (1: as trained)."""
    return LoRARequest(name=style.id, path=str(style.adapter_path), lora_scale=lora_scale)


def reply_all(llm, system: str, requests: Sequence[str], params: Sequence[SamplingParams],
              lora: LoRARequest | None) -> list[str]:
    """One reply per (request, params) row, every row in one engine batch, each prompted with ``system``."""
    if len(requests) != len(params):
        raise ValueError(f"{len(requests)} requests but {len(params)} sampling params")
    outputs = llm.chat([conversation(system, r) for r in requests], list(params), lora)
    return [out.outputs[0].text.strip() for out in outputs]


def seeded(params: SamplingParams, count: int, seed: int) -> list[SamplingParams]:
    """``count`` copies of ``params``, each with its own seed (reproducible, whatever the batch)."""
    return [replace(params, seed=seed + i) for i in range(count)]
