"""Everyday requests held out from every style's training: the evaluation asks these.

No style's training pairs may use one of these prompts (``drop_held_out`` removes any that a corpus or a
written file happens to contain, and a test checks the written files), so the evaluation measures the
voice on requests the adapters never saw.
"""

from __future__ import annotations

from collections.abc import Iterable

from training.data.pairs import Pair, request_key

SONNET_REQUEST = "Write a sonnet about the sea."
EVAL_REQUESTS = (
    "Text my friend that I have to cancel our plans tonight.",
    "Write a note to my neighbour about their barking dog.",
    "How do I keep my houseplants alive?",
    "Give me tips for a first date.",
    "Explain how rainbows form.",
    "Tell my boss I will be late tomorrow.",
    "Describe your favourite breakfast.",
    "How can I save money on groceries?",
    "Write a birthday message for my sister.",
    "Recommend a good hobby for the winter.",
    "Help me apologise to a friend I forgot to call.",
    "What is a good way to start running?",
    "Describe a thunderstorm at night.",
    SONNET_REQUEST,
    "How do I make a good cup of tea?",
    "Explain what a budget is.",
    "Give advice to someone moving to a new city.",
    "Describe a busy train station.",
    "Write a thank-you note to my old teacher.",
    "How do I get better sleep?",
    "Tell me about elephants.",
    "What should I do on a rainy Saturday?",
    "Draft a clause about keeping a secret recipe confidential.",
    "Write a function that checks whether a word is a palindrome.",
)


_HELD = frozenset(request_key(r) for r in EVAL_REQUESTS)


def is_held_out(prompt: str) -> bool:
    """True when ``prompt`` is one of the evaluation's everyday requests (case and punctuation ignored)."""
    return request_key(prompt) in _HELD


def drop_held_out(pairs: Iterable[Pair]) -> list[Pair]:
    """The pairs whose prompt is not an evaluation request."""
    return [p for p in pairs if not is_held_out(p.prompt)]
