"""Train only the top of the network: the frozen lower layers run once per example, not once per step.

With LoRA on the last N decoder layers only, everything below them is a fixed function of the tokens.
So the hidden states entering the first adapted layer are computed once for the whole dataset (no
grad) and reused every epoch, and each training step runs just the adapted layers, the final norm and
the LM head, the head only at the positions that carry loss (the reply: about half of a chat example).
The loss is the same token-mean cross-entropy as ``model(..., labels=...).loss`` (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from training.chat_format import IGNORE


@dataclass(frozen=True)
class TopStack:
    """The parts of a (PEFT-wrapped) Llama-family causal LM that a step above the frozen prefix needs."""

    embed: nn.Module
    lower: list[nn.Module]  # frozen decoder layers, run once per example
    upper: list[nn.Module]  # adapted decoder layers, run every step
    rotary: nn.Module
    norm: nn.Module
    head: nn.Module


def top_stack(model: nn.Module, upper_layers: int) -> TopStack:
    """Split ``model`` (a PEFT model or a plain ``*ForCausalLM``) above its last ``upper_layers`` layers."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner, layers = causal_lm.model, list(causal_lm.model.layers)
    split = len(layers) - upper_layers
    return TopStack(inner.embed_tokens, layers[:split], layers[split:], inner.rotary_emb, inner.norm,
                    causal_lm.lm_head)


def _run_layers(stack: TopStack, layers: list[nn.Module], hidden: torch.Tensor) -> torch.Tensor:
    """Causal pass of ``hidden`` [B, T, H] through ``layers`` at positions 0..T-1 (right padding is inert)."""
    positions = torch.arange(hidden.shape[1], device=hidden.device)[None]  # [1, T]
    rope = stack.rotary(hidden, positions)
    for layer in layers:
        hidden = layer(hidden, attention_mask=None, position_ids=positions, position_embeddings=rope)
    return hidden


@torch.no_grad()
def prefix_states(stack: TopStack, sequences: list[list[int]], batch_size: int = 16) -> list[torch.Tensor]:
    """The hidden state entering the first adapted layer for every sequence: one ``[T_i, H]`` each."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))  # similar lengths pad less
    states: list[torch.Tensor | None] = [None] * len(sequences)
    for start in tqdm(range(0, len(order), batch_size), desc="frozen layers", unit="batch"):
        chosen = order[start:start + batch_size]
        width = max(len(sequences[i]) for i in chosen)
        ids = torch.zeros(len(chosen), width, dtype=torch.long)  # [b, T], right padded
        for row, i in enumerate(chosen):
            ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
        hidden = _run_layers(stack, stack.lower, stack.embed(ids))  # [b, T, H]
        for row, i in enumerate(chosen):
            states[i] = hidden[row, : len(sequences[i])].clone()
    return states


def pad_states(states: list[torch.Tensor], labels: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``[T_i, H]`` states and their labels to ``[B, T, H]`` and ``[B, T]`` (IGNORE on padding)."""
    width, dim = max(s.shape[0] for s in states), states[0].shape[1]
    hidden = states[0].new_zeros(len(states), width, dim)
    targets = torch.full((len(states), width), IGNORE)
    for row, (state, label) in enumerate(zip(states, labels)):
        hidden[row, : state.shape[0]], targets[row, : len(label)] = state, torch.tensor(label)
    return hidden, targets


def top_loss(stack: TopStack, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over labelled positions, from prefix states ``[B, T, H]``."""
    hidden = _run_layers(stack, stack.upper, hidden)
    targets = labels[:, 1:]  # [B, T-1]: position t predicts token t+1
    keep = targets != IGNORE
    logits = stack.head(stack.norm(hidden[:, :-1][keep]))  # [N, V], N = labelled positions
    return F.cross_entropy(logits.float(), targets[keep])
