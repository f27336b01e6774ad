"""The offline API in vLLM's shape: ``LLM(model=...).generate(prompts, params)`` and ``.chat(...)``."""

from __future__ import annotations

from collections.abc import Sequence as Seq

from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.lora.request import AdapterRequest, LoRABlend, LoRARequest
from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams

Prompt = str | dict
Params = SamplingParams | Seq[SamplingParams] | None
Loras = AdapterRequest | Seq[AdapterRequest | None] | None
Conversation = list[dict]


class LLM:
    """One engine for batch generation: all prompts are queued at once and run to completion."""

    def __init__(self, model: str = EngineConfig.model, dtype: str = "auto", **config: object) -> None:
        self.engine = LLMEngine(EngineConfig(model=model, dtype=dtype, **config))
        self._counter = 0

    def get_tokenizer(self) -> object:
        """The engine's tokenizer."""
        return self.engine.tokenizer

    def generate(self, prompts: Prompt | Seq[Prompt], params: Params = None,
                 lora_request: Loras = None) -> list[RequestOutput]:
        """Complete each prompt (text or ``{"prompt_token_ids": [...]}``); results in prompt order.

        ``lora_request``: one adapter (``LoRARequest``) or style blend (``LoRABlend``) for every prompt,
        or a list with one of them (or None) per prompt.
        """
        prompts = [prompts] if isinstance(prompts, (str, dict)) else list(prompts)
        all_params = self._per_prompt(params, len(prompts))
        loras = self._per_prompt_lora(lora_request, len(prompts))
        ids: list[str] = []
        try:
            for prompt, sp, lora in zip(prompts, all_params, loras):
                ids.append(self._add(prompt, sp, lora))
        except ValueError:
            for request_id in ids:  # leave no half-submitted batch behind
                self.engine.abort(request_id)
            raise
        return self._run(ids)

    def chat(self, messages: Conversation | Seq[Conversation], params: Params = None,
             lora_request: Loras = None) -> list[RequestOutput]:
        """Answer one conversation (a list of messages) or a list of them, via the chat template."""
        conversations = [messages] if messages and isinstance(messages[0], dict) else list(messages)
        tokenizer = self.engine.tokenizer
        prompts = [tokenizer.apply_chat_template(c, add_generation_prompt=True) for c in conversations]
        return self.generate(prompts, params, lora_request)

    @staticmethod
    def _per_prompt(params: Params, count: int) -> list[SamplingParams]:
        if params is None:
            return [SamplingParams()] * count
        if isinstance(params, SamplingParams):
            return [params] * count
        params = list(params)
        if len(params) != count:
            raise ValueError(f"got {len(params)} SamplingParams for {count} prompts")
        return params

    @staticmethod
    def _per_prompt_lora(lora_request: Loras, count: int) -> list[AdapterRequest | None]:
        if lora_request is None or isinstance(lora_request, (LoRARequest, LoRABlend)):
            return [lora_request] * count
        loras = list(lora_request)
        if len(loras) != count:
            raise ValueError(f"got {len(loras)} LoRA requests for {count} prompts")
        return loras

    def _add(self, prompt: Prompt, params: SamplingParams, lora_request: AdapterRequest | None) -> str:
        if isinstance(prompt, dict):
            if "prompt_token_ids" not in prompt:
                raise ValueError("a dict prompt needs a 'prompt_token_ids' list")
            prompt = list(prompt["prompt_token_ids"])
        self._counter += 1
        request_id = f"offline-{self._counter}"
        self.engine.add_request(request_id, prompt, params, lora_request)
        return request_id

    def _run(self, request_ids: list[str]) -> list[RequestOutput]:
        final: dict[str, RequestOutput] = {}
        while self.engine.has_unfinished_requests():
            for out in self.engine.step():
                if out.finished:
                    final[out.request_id] = out
        return [final[i] for i in request_ids]
