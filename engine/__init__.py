"""Inkwell's inference engine. ``from engine import LLM, SamplingParams, LoRARequest`` (vLLM-style);
``LoRABlend`` blends up to three adapters in one request.

``LLM`` and ``LLMEngine`` are imported on first use, so that light modules (sampling params, the
model store) can be imported without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.lora.request import LoRABlend, LoRARequest
from engine.sampling_params import SamplingParams

if TYPE_CHECKING:
    from engine.config import EngineConfig
    from engine.llm import LLM
    from engine.llm_engine import LLMEngine

__all__ = ["LLM", "LLMEngine", "EngineConfig", "SamplingParams", "LoRARequest", "LoRABlend"]
_LAZY = {"LLM": "engine.llm", "LLMEngine": "engine.llm_engine", "EngineConfig": "engine.config"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
