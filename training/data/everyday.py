"""Everyday requests held out from every style's training: the evaluation asks these, the tuning those.

``EVAL_REQUESTS`` are the ones docs/STYLES.md scores; ``TUNING_REQUESTS`` are a second set of the same kinds
(messages, how-to, explanations, descriptions, a verse form, a clause, a function) on which a style's
default strength is chosen (``inkwell tune-strength``), so the evaluation never scores what it tuned on.
No style's training pairs may use one of either set's prompts (``drop_held_out`` removes any that a corpus or a
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

TUNING_REQUESTS = (
    "Text my brother that dinner is at seven.",
    "Write a note asking my landlord to fix the heating.",
    "How do I clean a cast-iron pan?",
    "Give me tips for a job interview.",
    "Explain why the sky is blue.",
    "Tell my team the meeting has moved to Friday.",
    "Describe your favourite season.",
    "How can I spend less time on my phone?",
    "Write a get-well message for my colleague.",
    "Recommend a book for a long train journey.",
    "Help me say no to extra work politely.",
    "What is a good way to learn to cook?",
    "Describe a snowy morning in the city.",
    "Write a sonnet about autumn leaves.",
    "How do I plant tomatoes?",
    "Explain what interest on a loan is.",
    "Give advice to someone starting university.",
    "Describe a crowded market on a Saturday.",
    "Write a thank-you note to a friend who helped me move.",
    "How do I stay calm before an exam?",
    "Tell me about owls.",
    "What should I cook for a picnic?",
    "Draft a clause about returning borrowed equipment on time.",
    "Write a function that counts the vowels in a string.",
    "Text my mum that I got home safely.",
    "Write a note to a colleague who is leaving the company.",
    "How do I choose a ripe melon?",
    "Give me tips for travelling with a small child.",
    "Explain how a bicycle stays upright.",
    "Tell the school my son is ill today.",
    "Describe the smell of fresh bread.",
    "How can I make my small flat feel bigger?",
    "Write a congratulations message for a new baby.",
    "Recommend a board game for a family evening.",
    "Help me ask my manager for a day off.",
    "What is a good way to remember names?",
    "Describe an empty beach in winter.",
    "Write a limerick about a forgetful cat.",
    "How do I wrap a present neatly?",
    "Explain what a vaccine does.",
    "Give advice to someone learning to drive.",
    "Describe a quiet library in the afternoon.",
    "Write a welcome note for a new neighbour.",
    "How do I clean windows without streaks?",
    "Tell me about lighthouses.",
    "What should I pack for a weekend camping trip?",
    "Draft a clause about sharing the cost of a shared car.",
    "Write a function that returns the largest number in a list.",
)


_HELD = frozenset(request_key(r) for r in (*EVAL_REQUESTS, *TUNING_REQUESTS))


def is_held_out(prompt: str) -> bool:
    """True when ``prompt`` is an evaluation or tuning request (case and punctuation ignored)."""
    return request_key(prompt) in _HELD


def drop_held_out(pairs: Iterable[Pair]) -> list[Pair]:
    """The pairs whose prompt is neither an evaluation nor a tuning request."""
    return [p for p in pairs if not is_held_out(p.prompt)]
