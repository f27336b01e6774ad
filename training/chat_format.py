"""Turn (system prompt, request, reply) into the base model's ChatML tokens, shared by training and eval."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from training.data.pairs import Pair

IGNORE = -100  # label of tokens that carry no loss (system prompt and request)


def conversation(system: str, request: str) -> list[dict[str, str]]:
    """One request as a chat prompted with the style's ``system`` prompt."""
    return [{"role": "system", "content": system}, {"role": "user", "content": request}]


def prompt_text(tokenizer: PreTrainedTokenizerBase, system: str, request: str) -> str:
    """The chat-templated prompt up to and including the assistant header."""
    return tokenizer.apply_chat_template(conversation(system, request), tokenize=False, add_generation_prompt=True)


def encode_pair(
    tokenizer: PreTrainedTokenizerBase, system: str, pair: Pair, max_len: int
) -> tuple[list[int], list[int]] | None:
    """(input_ids, labels) with loss on the reply and its end token only; None if the prompt is too long.

    The reply is cut to fit ``max_len`` tokens; a cut reply loses its end-of-turn token.
    """
    prompt_ids = tokenizer(prompt_text(tokenizer, system, pair.prompt), add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(pair.response + "<|im_end|>", add_special_tokens=False)["input_ids"]
    room = max_len - len(prompt_ids)
    if room < 8:
        return None
    reply_ids = reply_ids[:room]
    return prompt_ids + reply_ids, [IGNORE] * len(prompt_ids) + reply_ids
