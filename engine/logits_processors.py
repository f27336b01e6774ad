"""Batched logits transforms: penalties, n-gram blocking, top-k / top-p / min-p truncation, one row per sequence.

Every function takes the rows that need it (``n`` of them) and per-row parameter tensors of shape
[n], so a batch with mixed settings is processed in one pass of tensor ops.
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")
WINDOWS = (512, 4096)  # top-k / top-p look at this many best tokens per row, then at all of them


def padded_tokens(token_lists: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [n, L], each row padded with its own first id (0 if empty), and real-entry weights [n, L].

    Padding with a row's own id makes the padded slots write the same value as the real ones.
    """
    width = max(1, max(len(ids) for ids in token_lists))
    padded = [ids + [ids[0] if ids else 0] * (width - len(ids)) for ids in token_lists]
    weights = [[1.0] * len(ids) + [0.0] * (width - len(ids)) for ids in token_lists]
    return (torch.tensor(padded, dtype=torch.long, device=device),
            torch.tensor(weights, device=device))


def apply_banned_tokens(logits: torch.Tensor, token_lists: list[list[int]]) -> torch.Tensor:
    """-inf at each row's listed token ids. logits: [n, V]; token_lists: one non-empty id list per row."""
    ids, _ = padded_tokens(token_lists, logits.device)  # [n, L], padding repeats a listed id
    return logits.scatter(1, ids, NEG_INF)


def force_token(logits: torch.Tensor, token_id: int) -> torch.Tensor:
    """-inf everywhere but at ``token_id``, which gets 0 even where an earlier step banned it. logits: [n, V]."""
    forced = torch.full_like(logits, NEG_INF)  # [n, V]
    forced[:, token_id] = 0.0
    return forced


def apply_repetition_penalty(logits: torch.Tensor, token_lists: list[list[int]],
                             penalty: torch.Tensor) -> torch.Tensor:
    """HF semantics: a seen token's logit is divided by ``penalty`` if positive, else multiplied.

    logits: [n, V]; token_lists: prompt + output ids per row; penalty: [n]. Touches only seen ids.
    """
    ids, weights = padded_tokens(token_lists, logits.device)  # [n, L]
    seen = logits.gather(1, ids)  # [n, L]
    penalty = penalty.unsqueeze(1)  # [n, 1]
    penalized = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, ids, torch.where(weights[:, :1] > 0, penalized, seen))  # empty rows stay


def apply_presence_frequency(logits: torch.Tensor, token_lists: list[list[int]], presence: torch.Tensor,
                             frequency: torch.Tensor) -> torch.Tensor:
    """OpenAI semantics: ``logit -= frequency * count + presence * (count > 0)`` over output tokens.

    logits: [n, V]; token_lists: output ids per row; presence, frequency: [n]. Touches only seen ids.
    """
    ids, weights = padded_tokens(token_lists, logits.device)  # [n, L]
    logits = logits.scatter_add(1, ids, -frequency.unsqueeze(1) * weights)  # once per occurrence
    seen = logits.gather(1, ids)  # [n, L]
    return logits.scatter(1, ids, seen - presence.unsqueeze(1) * weights[:, :1])  # once per token


def apply_top_k_top_p(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor,
                      windows: tuple[int, ...] = WINDOWS) -> torch.Tensor:
    """Keep each row's ``top_k`` largest logits (ties kept), then its smallest nucleus of mass ``top_p``.

    logits: [n, V]; top_k: [n] long, V where disabled; top_p: [n], 1.0 where disabled.
    Removed tokens get -inf; the most likely token is always kept. Each row is decided within the
    smallest window of its best tokens that holds its cut, so few rows ever need a full sort.
    """
    out = torch.full_like(logits, NEG_INF)  # [n, V]
    rows = torch.arange(logits.shape[0], device=logits.device)  # [m] rows not decided yet
    for window in (*windows, logits.shape[1]):
        width = min(window, int(top_k[rows].max()) + 1, logits.shape[1])  # one more than k shows ties
        values, indices = logits[rows].topk(width, dim=-1)  # [m, W] descending
        values, fits = _cut_window(logits[rows], values, top_k[rows], top_p[rows])
        out[rows[fits].unsqueeze(1), indices[fits]] = values[fits]
        rows = rows[~fits]
        if rows.numel() == 0:
            break
    return out


def _cut_window(logits: torch.Tensor, values: torch.Tensor, top_k: torch.Tensor,
                top_p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the best ``values`` [m, W] of ``logits`` [m, V]; also say which rows the window decides [m]."""
    width, vocab = values.shape[1], logits.shape[1]
    kth = values.gather(1, (top_k.clamp(max=width) - 1).unsqueeze(1))  # [m, 1]
    k_inside = ((top_k < width) & (kth.squeeze(1) > values[:, -1])) | (width == vocab)  # [m]
    values = values.masked_fill(k_inside.unsqueeze(1) & (values < kth), NEG_INF)
    norm = values.logsumexp(dim=-1)  # [m]
    if not bool(k_inside.all()):  # an untruncated row's nucleus is measured against every token
        norm = torch.where(k_inside, norm, logits.logsumexp(dim=-1))
    probs = (values - norm.unsqueeze(1)).exp()  # [m, W], renormalised after top-k
    before = probs.cumsum(dim=-1) - probs  # mass of the better tokens
    values = values.masked_fill((before >= top_p.unsqueeze(1)) & (top_p < 1.0).unsqueeze(1), NEG_INF)
    fits = k_inside | ((top_k >= vocab) & (probs.sum(dim=-1) >= top_p))
    return values, fits


def apply_min_p(logits: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    """Drop tokens whose probability is below ``min_p`` times the row's top probability.

    logits: [n, V]; min_p: [n]. Compared in log space (p_i < min_p * p_max), so no softmax is needed.
    """
    floor = logits.amax(dim=-1, keepdim=True) + min_p.log().unsqueeze(1)  # [n, 1]
    return logits.masked_fill(logits < floor, NEG_INF)


def banned_ngram_tokens(ids: list[int], size: int) -> list[int]:
    """Tokens that would complete a ``size``-gram already in ``ids``: those that once followed its last size-1."""
    if size < 1 or len(ids) < size:
        return []
    tail = ids[len(ids) - size + 1:]  # the n-1 tokens a new token would extend
    return [ids[i + size - 1] for i in range(len(ids) - size + 1) if ids[i:i + size - 1] == tail]


def apply_no_repeat_ngram(logits: torch.Tensor, token_lists: list[list[int]], sizes: list[int]) -> torch.Tensor:
    """Set to -inf every token that would repeat an n-gram of its row's output (n = ``sizes[row]``).

    logits: [n, V]; token_lists: output ids per row; sizes: n-gram size per row. Returns a new tensor.
    """
    logits = logits.clone()
    for row, (ids, size) in enumerate(zip(token_lists, sizes)):
        if banned := banned_ngram_tokens(ids, size):
            logits[row, banned] = NEG_INF
    return logits
