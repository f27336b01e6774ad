"""Incremental detokenization of one output sequence, with stop strings across token boundaries."""

from __future__ import annotations

from tokenizers import Tokenizer as HFTokenizer
from tokenizers.decoders import DecodeStream

from engine.sampling_params import SamplingParams
from engine.stop import StopMatcher

PROMPT_CONTEXT = 6  # trailing prompt tokens given to the decoder as context (leading spaces, bytes)


class OutputDetokenizer:
    """Turns sampled token ids into text deltas that are safe to show.

    Multi-byte characters are never split (``tokenizers``' ``DecodeStream`` buffers partial bytes), and
    no part of a stop string is ever emitted: a tail that could still become one is held back until it
    cannot, and on a match only the text before the stop is emitted. ``text`` is everything emitted.
    The text of the first ``params.min_tokens`` tokens is never searched for stop strings.
    """

    def __init__(self, tokenizer: HFTokenizer, params: SamplingParams, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._stream = DecodeStream(
            ids=list(prompt_ids[-PROMPT_CONTEXT:]), skip_special_tokens=params.skip_special_tokens
        )
        self._matcher = StopMatcher(params.stop)
        self._unchecked = params.min_tokens  # tokens still to go before stop strings count
        self._pending = ""
        self.text = ""
        self.stopped: str | None = None

    def push(self, token_id: int) -> tuple[str, str | None]:
        """Add one token; return (text delta safe to show, the matched stop string or None)."""
        if self.stopped is not None:
            raise RuntimeError(f"push after the stop string {self.stopped!r} already ended the text")
        self._pending += self._stream.step(self._tokenizer, token_id) or ""
        if self._unchecked > 0:
            self._unchecked -= 1
            return self._emit(len(self._pending)), None
        match = self._matcher.find(self._pending)
        if match is not None:
            index, self.stopped = match
            delta = self._emit(index)
            self._pending = ""  # the stop string and anything after it are never shown
            return delta, self.stopped
        return self._emit(len(self._pending) - self._matcher.held_back(self._pending)), None

    def flush(self) -> str:
        """Emit the held-back text when the sequence ends for another reason than a stop string.

        Bytes of a character the sequence never completed are dropped rather than shown broken.
        """
        return self._emit(len(self._pending))

    def _emit(self, size: int) -> str:
        delta, self._pending = self._pending[:size], self._pending[size:]
        self.text += delta
        return delta
