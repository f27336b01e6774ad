"""Per-request sampling parameters, in the shape vLLM users know."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 2.0  # below 0.01 logits / T overflow; use 0 (greedy) instead
MIN_REPETITION_PENALTY, MAX_REPETITION_PENALTY = 0.01, 10.0
MAX_LINES = 1000  # ``lines``: far beyond any verse form
MIN_LINE_WIDTH, MAX_LINE_WIDTH = 16, 1000  # ``line_width`` in characters (0: off)
SEED_RANGE = (-(2**63), 2**63 - 1)  # int64, as OpenAI documents it

# field -> (test, rule in words); every float must also be finite, every int an int
_FLOAT_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "temperature": (lambda t: t == 0.0 or MIN_TEMPERATURE <= t <= MAX_TEMPERATURE,
                    f"must be 0 (greedy) or in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}]"),
    "top_p": (lambda p: 0.0 < p <= 1.0, "must be in (0, 1]"),
    "min_p": (lambda p: 0.0 <= p <= 1.0, "must be in [0, 1]"),
    "repetition_penalty": (lambda p: MIN_REPETITION_PENALTY <= p <= MAX_REPETITION_PENALTY,
                           f"must be in [{MIN_REPETITION_PENALTY:g}, {MAX_REPETITION_PENALTY:g}]"),
    "presence_penalty": (lambda p: -2.0 <= p <= 2.0, "must be in [-2, 2]"),
    "frequency_penalty": (lambda p: -2.0 <= p <= 2.0, "must be in [-2, 2]"),
}
_INT_RULES: dict[str, tuple[Callable[[int], bool], str]] = {
    "n": (lambda n: n >= 1, "must be >= 1"),
    "top_k": (lambda k: k == -1 or k >= 1, "must be -1 (disabled) or >= 1"),
    "no_repeat_ngram_size": (lambda n: n >= 0, "must be >= 0 (0 disables it)"),
    "lines": (lambda n: 0 <= n <= MAX_LINES, f"must be in [0, {MAX_LINES}] (0 disables it)"),
    "line_width": (lambda w: w == 0 or MIN_LINE_WIDTH <= w <= MAX_LINE_WIDTH,
                   f"must be 0 (off) or in [{MIN_LINE_WIDTH}, {MAX_LINE_WIDTH}]"),
    "max_tokens": (lambda m: m >= 1, "must be >= 1"),
    "seed": (lambda s: SEED_RANGE[0] <= s <= SEED_RANGE[1], "must be a 64-bit signed integer"),
    "logprobs": (lambda k: 0 <= k <= 20, "must be in [0, 20]"),
}
_OPTIONAL = ("seed", "logprobs")


def _float_problem(value: object, test: Callable[[float], bool], rule: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number"
    return None if test(value) else rule


def _int_problem(value: object, test: Callable[[int], bool], rule: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    return None if test(value) else rule


@dataclass
class SamplingParams:
    """How to sample one request's tokens. Invalid values raise ``ValueError`` naming the field.

    temperature 0 means greedy, else it lies in [0.01, 2]. ``seed`` makes a request reproducible
    whatever else shares its batch. ``stop`` strings end the text (the stop string itself is not
    returned); ``stop_token_ids`` end it after that token. ``no_repeat_ngram_size=n`` bans any token
    that would repeat an n-gram of the output. ``logprobs=k`` returns the chosen token's logprob
    plus the top-k alternatives. ``min_tokens``: EOS (unless ``ignore_eos``) and ``stop_token_ids``
    cannot be sampled, and stop strings are not looked for, until that many tokens are generated
    (vLLM's semantics). ``lines=n`` (an Inkwell extra, for verse forms such as a sonnet's 14) holds EOS
    and ``stop_token_ids`` back until the output has n non-empty lines and ends it ("stop") when the
    n-th line's newline is generated; ``max_tokens`` still applies. ``line_width=w`` (an Inkwell extra,
    for verse) breaks the open line once it holds w characters and ends on punctuation, and at once past
    11/6 of w; a ``lines`` row without it breaks at 60 / 110 (``engine.lines``).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1  # -1: disabled
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    no_repeat_ngram_size: int = 0  # > 0: never repeat a token n-gram of the output; 0: disabled
    lines: int = 0  # > 0: exactly this many non-empty lines (unless max_tokens ends it first); 0: disabled
    line_width: int = 0  # > 0: break lines past this many characters (verse); 0: only a ``lines`` row's wrap
    seed: int | None = None
    max_tokens: int = 16
    min_tokens: int = 0
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    logprobs: int | None = None
    skip_special_tokens: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]
        for name, problem in self._problems():
            if problem is not None:
                raise ValueError(f"{name} {problem}, got {getattr(self, name)!r}")

    def _problems(self) -> list[tuple[str, str | None]]:
        floats = [(name, _float_problem(getattr(self, name), *rule)) for name, rule in _FLOAT_RULES.items()]
        ints = [(name, _int_problem(getattr(self, name), *rule)) for name, rule in _INT_RULES.items()
                if not (name in _OPTIONAL and getattr(self, name) is None)]
        return floats + ints + [("min_tokens", self._min_tokens_problem())]

    def _min_tokens_problem(self) -> str | None:
        rule = f"must be in [0, max_tokens={self.max_tokens}]"
        problem = _int_problem(self.min_tokens, lambda m: m >= 0, rule)
        if problem is not None or _int_problem(self.max_tokens, lambda m: True, "") is not None:
            return problem  # a bad max_tokens is reported by its own rule
        return None if self.min_tokens <= self.max_tokens else rule

    @property
    def greedy(self) -> bool:
        """True when the request picks the argmax token."""
        return self.temperature == 0.0
