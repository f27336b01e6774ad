"""Shared fixtures: tiny random Llama / Mistral Hugging Face model folders with a byte-level tokenizer.

``make_tiny_model_dir(path, arch, **config)`` writes one (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, chat_template.jinja); the session fixtures below reuse it. Vocabulary: 256
byte tokens plus ``<|im_start|>`` (256, bos) and ``<|im_end|>`` (257, eos), ChatML chat template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

TINY_VOCAB = 258
BOS_ID, EOS_ID = 256, 257
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_SHAPE = dict(
    vocab_size=TINY_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
    bos_token_id=BOS_ID, eos_token_id=EOS_ID, initializer_range=0.2, tie_word_embeddings=False,
)


def write_tiny_tokenizer(path: Path) -> None:
    """A byte-level BPE tokenizer without merges (one token per byte) plus two special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tokenizer.save(str(path / "tokenizer.json"))
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    (path / "chat_template.jinja").write_text(CHATML)


def make_tiny_model_dir(path: Path, arch: str = "llama", seed: int = 0, **config: object) -> Path:
    """Write a random ``LlamaForCausalLM`` or ``MistralForCausalLM`` (``arch``) folder with a tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "mistral": (MistralConfig, MistralForCausalLM)}
    config_cls, model_cls = classes[arch]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**{**TINY_SHAPE, **config})).eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    write_tiny_tokenizer(path)
    return path


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama (GQA 4/2 heads, 2 layers, untied head)."""
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "llama", "llama")


@pytest.fixture(scope="session")
def tiny_mistral_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Mistral with a sliding window of 8 tokens (shorter than the test sequences)."""
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "mistral", "mistral", sliding_window=8)


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """The real embedded SmolLM2-135M folder (fetched by ``make test``'s set-up)."""
    from engine.model_store import resolve_model

    return resolve_model("smollm2-135m")
