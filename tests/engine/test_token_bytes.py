"""Each token's real bytes: joined over a text's tokens they give back the text's UTF-8, even where
single tokens hold only pieces of a character (emoji split by byte-level BPE)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers

from engine.token_bytes import TokenBytes, byte_level_alphabet
from engine.tokenizer import Tokenizer

TEXTS = ["plain ascii", "Emoji 🎉😀👩‍👩‍👧 and ünïcödé", "中文测试 ok"]


def test_the_byte_level_table_is_the_tokenizers_alphabet() -> None:
    table = byte_level_alphabet()
    assert sorted(table.values()) == list(range(256))
    assert set(table) == set(pre_tokenizers.ByteLevel.alphabet())


@pytest.mark.parametrize("text", TEXTS)
def test_tokens_of_a_text_give_back_its_bytes_tiny(tiny_llama_dir: Path, text: str) -> None:
    tokenizer = Tokenizer.from_dir(tiny_llama_dir)
    ids = tokenizer.encode(text)
    assert all(len(tokenizer.token_bytes(i)) == 1 for i in ids)  # one token per byte there
    assert b"".join(tokenizer.token_bytes(i) for i in ids) == text.encode()


@pytest.mark.slow
@pytest.mark.parametrize("text", TEXTS)
def test_tokens_of_a_text_give_back_its_bytes_smollm2(embedded_model_dir: Path, text: str) -> None:
    tokenizer = Tokenizer.from_dir(embedded_model_dir)
    ids = tokenizer.encode(text)
    pieces = [tokenizer.token_bytes(i) for i in ids]
    assert b"".join(pieces) == text.encode()
    if "🎉" in text:
        assert any(tokenizer.decode([i]) == "\ufffd" for i in ids)  # decoding alone would have lost them


def test_special_tokens_are_their_text(tiny_llama_dir: Path) -> None:
    tokenizer = Tokenizer.from_dir(tiny_llama_dir)
    assert tokenizer.token_bytes(257) == b"<|im_end|>"
    assert tokenizer.token_bytes(10**6) == b""


def test_sentencepiece_byte_fallback_and_spaces() -> None:
    vocab = {"<unk>": 0, "<0xF0>": 1, "<0x9F>": 2, "\u2581hi": 3, "there": 4}
    backend = HFTokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    backend.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    token_bytes = TokenBytes(backend)
    assert [token_bytes(i) for i in (1, 2, 3, 4)] == [b"\xf0", b"\x9f", b" hi", b"there"]
