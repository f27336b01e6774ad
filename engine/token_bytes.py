"""The bytes a token stands for, as OpenAI's logprobs ``bytes`` field reports them.

Decoding one token alone gives U+FFFD for a piece of a multi-byte character (most emoji are split
into several byte-level tokens); its vocabulary entry says exactly which bytes it holds:
byte-level BPE (GPT-2, SmolLM2, Llama 3) maps each byte to one printable character, SentencePiece
writes a byte-fallback token as ``<0xF0>`` and a space as ``▁``.
"""

from __future__ import annotations

import re

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")
SENTENCEPIECE_SPACE = "\u2581"


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-to-character table, inverted: character -> byte.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes take the code points from 256 on.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[chr(byte)] = byte
        else:
            table[chr(256 + shifted)] = byte
            shifted += 1
    return table


class TokenBytes:
    """``TokenBytes(backend)(token_id) -> bytes`` for a ``tokenizers`` tokenizer."""

    def __init__(self, backend: HFTokenizer) -> None:
        self._backend = backend
        self._byte_level = byte_level_alphabet() if isinstance(backend.decoder, decoders.ByteLevel) else None
        self._added = {i: t.content for i, t in backend.get_added_tokens_decoder().items()}

    def __call__(self, token_id: int) -> bytes:
        """The token's bytes (special tokens: their text; unknown ids: none)."""
        if token_id in self._added:
            return self._added[token_id].encode("utf-8")
        piece = self._backend.id_to_token(token_id)
        if piece is None:
            return b""
        if self._byte_level is not None and all(c in self._byte_level for c in piece):
            return bytes(self._byte_level[c] for c in piece)
        fallback = _BYTE_FALLBACK.fullmatch(piece)
        if fallback is not None:
            return bytes([int(fallback.group(1), 16)])
        return piece.replace(SENTENCEPIECE_SPACE, " ").encode("utf-8")
