"""OpenAI response bodies and stream chunks, built from the engine's ``RequestOutput``s."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.outputs import CompletionOutput, RequestOutput, TokenLogprob

TokenText = Callable[[int], str]
TokenBytes = Callable[[int], bytes]


def usage(output: RequestOutput) -> dict[str, Any]:
    """OpenAI's ``usage`` object for a (finished) request, with the prompt tokens the prefix cache held."""
    prompt = len(output.prompt_token_ids)
    completion = sum(len(choice.token_ids) for choice in output.outputs)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": output.num_cached_tokens}}


def _chat_logprobs(entries: list[TokenLogprob], token_text: TokenText, token_bytes: TokenBytes) -> dict[str, Any]:
    def item(token_id: int, logprob: float) -> dict[str, Any]:
        return {"token": token_text(token_id), "logprob": logprob, "bytes": list(token_bytes(token_id))}

    return {"content": [{**item(e.token_id, e.logprob),
                         "top_logprobs": [item(t, lp) for t, lp in e.top.items()]} for e in entries]}


def _completion_logprobs(entries: list[TokenLogprob], token_text: TokenText, offset: int) -> dict[str, Any]:
    tokens = [token_text(e.token_id) for e in entries]
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    return {"tokens": tokens, "token_logprobs": [e.logprob for e in entries],
            "top_logprobs": [{token_text(t): lp for t, lp in e.top.items()} for e in entries],
            "text_offset": offsets}


def _delta_logprobs(choice: CompletionOutput) -> list[TokenLogprob]:
    if not choice.logprobs or not choice.delta_token_ids:
        return []
    return choice.logprobs[-len(choice.delta_token_ids):]


@dataclass
class ResponseBuilder:
    """Shapes one request's outputs as chat or text completions (``chat`` selects which).

    ``token_text`` names a token in logprobs; ``token_bytes`` gives its real bytes (a piece of an
    emoji included, whose text alone would be U+FFFD).
    """

    model: str
    chat: bool
    token_text: TokenText
    token_bytes: TokenBytes
    request_id: str  # the engine's id (made by ``AsyncLLMEngine.submit``)
    want_logprobs: bool = False
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def response_id(self) -> str:
        """The id clients see."""
        return ("chatcmpl-" if self.chat else "cmpl-") + self.request_id

    def _envelope(self, choices: list[dict[str, Any]], chunk: bool) -> dict[str, Any]:
        if self.chat:
            kind = "chat.completion.chunk" if chunk else "chat.completion"
        else:
            kind = "text_completion"
        return {"id": self.response_id, "object": kind, "created": self.created, "model": self.model,
                "choices": choices}

    def _logprobs(self, entries: list[TokenLogprob], offset: int) -> dict[str, Any] | None:
        if not self.want_logprobs:
            return None
        if self.chat:
            return _chat_logprobs(entries, self.token_text, self.token_bytes)
        return _completion_logprobs(entries, self.token_text, offset)

    def full(self, output: RequestOutput) -> dict[str, Any]:
        """The non-streamed response body."""
        choices = []
        for choice in output.outputs:
            logprobs = self._logprobs(choice.logprobs or [], 0)
            if self.chat:
                message = {"role": "assistant", "content": choice.text}
                choices.append({"index": choice.index, "message": message, "logprobs": logprobs,
                                "finish_reason": choice.finish_reason})
            else:
                choices.append({"index": choice.index, "text": choice.text, "logprobs": logprobs,
                                "finish_reason": choice.finish_reason})
        return {**self._envelope(choices, chunk=False), "usage": usage(output)}

    def role_chunk(self, n: int) -> dict[str, Any]:
        """The chat stream's opening chunk announcing the assistant role for each choice."""
        choices = [{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                    "finish_reason": None} for i in range(n)]
        return self._envelope(choices, chunk=True)

    def delta_chunk(self, output: RequestOutput) -> dict[str, Any] | None:
        """A chunk with each choice's new text (None when the step added nothing visible)."""
        choices = []
        for choice in output.outputs:
            if not (choice.delta_text or choice.delta_token_ids or choice.finished):
                continue
            offset = len(choice.text) - len(choice.delta_text)
            logprobs = self._logprobs(_delta_logprobs(choice), offset)
            entry = {"index": choice.index, "logprobs": logprobs, "finish_reason": choice.finish_reason}
            if self.chat:
                entry["delta"] = {"content": choice.delta_text} if choice.delta_text else {}
            else:
                entry["text"] = choice.delta_text
            choices.append(entry)
        return self._envelope(choices, chunk=True) if choices else None

    def usage_chunk(self, output: RequestOutput) -> dict[str, Any]:
        """The final chunk of ``stream_options.include_usage``: no choices, just usage."""
        return {**self._envelope([], chunk=True), "usage": usage(output)}
