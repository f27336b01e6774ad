"""Text and likelihood metrics of the style evaluation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from training.chat_format import IGNORE, pad_batch


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


@torch.no_grad()
def perplexity(model: torch.nn.Module, examples: Sequence[tuple[list[int], list[int]]], batch_size: int = 8) -> float:
    """exp(mean token NLL) over the labelled (reply) tokens of ``examples`` = [(input_ids, labels)]."""
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(examples), batch_size):
        ids, labels, mask = pad_batch(list(examples[start : start + batch_size]), pad_id=0)
        logits = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V)
        targets = labels[:, 1:]  # token t is predicted from position t-1
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2).float(), targets, ignore_index=IGNORE, reduction="sum"
        )
        total_nll += nll.item()
        total_tokens += int((targets != IGNORE).sum())
    return math.exp(total_nll / max(total_tokens, 1))
