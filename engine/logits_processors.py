"""Batched logits transforms: penalties and top-k / top-p / min-p truncation, one row per sequence.

Every function takes the rows that need it (``n`` of them) and per-row parameter tensors of shape
[n], so a batch with mixed settings is processed in one pass of tensor ops.
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def token_counts(token_lists: list[list[int]], vocab_size: int, device: torch.device) -> torch.Tensor:
    """How often each token id occurs in each list: [n, vocab_size] float32."""
    width = max(1, max(len(ids) for ids in token_lists))
    padded = [ids + [vocab_size] * (width - len(ids)) for ids in token_lists]  # pad -> spare column
    index = torch.tensor(padded, dtype=torch.long, device=device)  # [n, width]
    counts = torch.zeros(len(token_lists), vocab_size + 1, device=device)
    counts.scatter_add_(1, index, torch.ones(index.shape, device=device))
    return counts[:, :vocab_size]  # [n, V]


def apply_repetition_penalty(logits: torch.Tensor, counts: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """HF semantics: a seen token's logit is divided by ``penalty`` if positive, else multiplied.

    logits, counts: [n, V]; penalty: [n]. ``counts`` covers prompt and output tokens.
    """
    penalty = penalty.unsqueeze(1)  # [n, 1]
    penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(counts > 0, penalized, logits)


def apply_presence_frequency(logits: torch.Tensor, counts: torch.Tensor, presence: torch.Tensor,
                             frequency: torch.Tensor) -> torch.Tensor:
    """OpenAI semantics: ``logit -= frequency * count + presence * (count > 0)`` over output tokens.

    logits, counts: [n, V]; presence, frequency: [n].
    """
    return logits - frequency.unsqueeze(1) * counts - presence.unsqueeze(1) * (counts > 0).float()


def apply_top_k_top_p(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keep each row's ``top_k`` largest logits (ties kept), then its smallest nucleus of mass ``top_p``.

    logits: [n, V]; top_k: [n] long, V where disabled; top_p: [n], 1.0 where disabled.
    Removed tokens get -inf; the most likely token is always kept.
    """
    ascending, order = logits.sort(dim=-1)  # [n, V]
    vocab = logits.shape[1]
    kth_largest = ascending.gather(1, (vocab - top_k).clamp(min=0).unsqueeze(1))  # [n, 1]
    ascending = ascending.masked_fill(ascending < kth_largest, NEG_INF)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)  # mass of this token and all smaller ones
    outside = cumulative <= (1.0 - top_p).unsqueeze(1)
    outside[:, -1] = False
    ascending = ascending.masked_fill(outside, NEG_INF)
    return torch.empty_like(logits).scatter_(1, order, ascending)


def apply_min_p(logits: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    """Drop tokens whose probability is below ``min_p`` times the row's top probability.

    logits: [n, V]; min_p: [n].
    """
    probs = logits.softmax(dim=-1)  # [n, V]
    threshold = probs.amax(dim=-1, keepdim=True) * min_p.unsqueeze(1)  # [n, 1]
    return logits.masked_fill(probs < threshold, NEG_INF)
