"""Per-step batch state shared by every layer of one forward pass (set once, read by many).

A step's tokens are flattened into one row per token: first the multi-token segments (prefill
chunks), then the single-token segments (decode rows), one segment per scheduled sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class StepContext:
    """The tensors every layer needs for one step, built once by the model runner.

    Shapes: T tokens, S segments (sequences), P prefill segments (the first P of S), D = S - P
    decode rows, N max blocks per sequence, L = N * block_size.
    """

    positions: torch.Tensor  # [T] int64, absolute position of each token
    slot_mapping: torch.Tensor  # [T] int64, flat KV-cache slot (block * block_size + offset) per token
    cu_seqlens_q: torch.Tensor  # [S + 1] int64, start of each segment in the token rows
    context_lens: torch.Tensor  # [S] int64, KV length of each sequence after this step
    block_tables: torch.Tensor  # [S, N] int64, padded with 0 (masked out)
    num_prefills: int  # P
    num_prefill_tokens: int  # rows [0, num_prefill_tokens) belong to prefill segments
    prefill_bounds: list[tuple[int, int, int]]  # per prefill segment: (row start, row end, context len)
    # the torch path's masks (the CPU row kernel reads row_tables / row_lens instead: empty / None there)
    prefill_masks: list[torch.Tensor | None]  # per prefill segment: [q_len, ctx_len] bool, True = attend
    decode_mask: torch.Tensor | None  # [D, 1, 1, L] bool, True = attend; None when D == 0
    row_tables: torch.Tensor  # [T, N] int64 contiguous: the block table of each row's sequence
    row_lens: torch.Tensor  # [T] int64 contiguous: the keys each row sees (its position + 1)
    logits_indices: torch.Tensor  # [R] int64, rows whose logits are sampled
    lora: object | None = None  # LoRA metadata, filled by the LoRA integration

    @property
    def num_decodes(self) -> int:
        """D: the number of single-token segments."""
        return self.context_lens.shape[0] - self.num_prefills


_CONTEXT: StepContext | None = None


def set_context(ctx: StepContext) -> None:
    """Make ``ctx`` the current step's context."""
    global _CONTEXT
    _CONTEXT = ctx


def get_context() -> StepContext:
    """The current step's context; raises if no step is running."""
    if _CONTEXT is None:
        raise RuntimeError("no StepContext is set: the model must be called through the model runner")
    return _CONTEXT


def reset_context() -> None:
    """Clear the current context after a step."""
    global _CONTEXT
    _CONTEXT = None
