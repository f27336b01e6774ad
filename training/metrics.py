"""Text metrics of the style evaluation: diversity and repetition."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def words(text: str) -> list[str]:
    """Lowercased whitespace tokens."""
    return text.lower().split()


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Unique n-grams / all n-grams over the texts (1.0: no repetition; near 0: babble); 0 when none."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def longest_repeat(text: str) -> int:
    """Length in words of the longest word n-gram that occurs at least twice in the text."""
    ws, best = words(text), 0
    for n in range(1, len(ws)):
        grams = [tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)]
        if len(set(grams)) == len(grams):
            break
        best = n
    return best


def max_ngram_count(text: str, n: int = 4) -> int:
    """How often the most frequent word n-gram of the text occurs (0 for a text shorter than n words)."""
    ws = words(text)
    counts = Counter(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1))
    return max(counts.values(), default=0)
