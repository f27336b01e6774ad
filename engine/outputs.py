"""What the engine hands back per request: cumulative results plus the delta of the last step."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenLogprob:
    """The chosen token's logprob and the top alternatives (token id -> logprob)."""

    token_id: int
    logprob: float
    top: dict[int, float] = field(default_factory=dict)


@dataclass
class CompletionOutput:
    """One sampled continuation of a prompt (``SamplingParams.n`` of them per request).

    ``text``/``token_ids`` are cumulative; ``delta_text``/``delta_token_ids`` are what the latest
    step added (what a streaming server sends). ``finish_reason`` is None while running, then
    "stop" (EOS, stop string or stop token), "length" (max_tokens / context), "abort" or "error".
    """

    index: int
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    delta_text: str = ""
    delta_token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprobs: list[TokenLogprob] | None = None

    @property
    def finished(self) -> bool:
        """True once this continuation has ended."""
        return self.finish_reason is not None


@dataclass
class RequestOutput:
    """The state of one request after a step."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = False
    error: str | None = None  # set with finish_reason "error": a per-request failure, in words
    metrics: dict[str, float] = field(default_factory=dict)  # arrival/first_token/finished times (s)
    num_cached_tokens: int = 0  # prompt tokens whose keys/values came from the prefix cache
