"""One generated continuation of a prompt, as the scheduler and the engine track it (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from engine.lines import LineCounter
from engine.lora.request import AdapterRequest
from engine.outputs import TokenLogprob
from engine.sampling_params import SamplingParams


class SequenceStatus(Enum):
    """Where a sequence is in its life."""

    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False)
class Sequence:
    """Token ids, KV blocks and progress of one continuation (a request with ``n`` > 1 has n of them).

    ``num_computed_tokens`` counts tokens whose keys/values are in the cache; once it reaches
    ``num_tokens`` the next step samples a new token. ``generator`` and ``detokenizer`` are opaque
    here (owned by the engine), so that scheduling stays free of torch. The prefix-cache fields are
    kept by the block manager.
    """

    seq_id: int
    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    index: int = 0
    lora_request: AdapterRequest | None = None  # one adapter or a blend
    generator: object | None = None
    detokenizer: object | None = None
    output_ids: list[int] = field(default_factory=list)
    block_table: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    cache_key: tuple | None = None  # adapter identity its keys/values are computed with (prefix cache)
    block_hashes: list[bytes] = field(default_factory=list)  # chained hashes of its full blocks under cache_key
    num_registered_blocks: int = 0  # leading blocks of block_table already offered to the prefix cache
    num_cached_tokens: int | None = None  # prompt tokens the prefix cache supplied at its first admission
    status: SequenceStatus = SequenceStatus.WAITING
    text: str = ""
    lines: LineCounter = field(default_factory=LineCounter)  # non-empty lines of ``text``
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | int | None = None

    @property
    def num_tokens(self) -> int:
        """Prompt plus generated tokens."""
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def lora_name(self) -> str:
        """The adapter's name (a blend's names joined by ``+``), or "base"."""
        return self.lora_request.name if self.lora_request else "base"

    def tokens(self, start: int, end: int) -> list[int]:
        """Token ids in ``[start, end)`` of prompt + output."""
        n_prompt = len(self.prompt_ids)
        if end <= n_prompt:
            return self.prompt_ids[start:end]
        if start >= n_prompt:
            return self.output_ids[start - n_prompt:end - n_prompt]
        return self.prompt_ids[start:] + self.output_ids[:end - n_prompt]

    def finish(self, reason: str, stop_reason: str | int | None = None) -> None:
        """Mark finished with a vLLM-style finish reason ("stop", "length", "abort", "error")."""
        self.status = SequenceStatus.FINISHED
        self.finish_reason = reason
        self.stop_reason = stop_reason
