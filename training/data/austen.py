"""Paragraphs of Jane Austen's six novels from Debian's r-cran-janeaustenr (R serialized data)."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

from training.corpora import fetch
from training.data.pairs import Pair, ask, clip_words, topic_of
from training.data.written import with_written

AUSTEN_ASKS = (
    "Write a passage about {topic}.",
    "Describe {topic}.",
    "Tell me about {topic}.",
    "Write a paragraph on {topic}.",
    "What can you say of {topic}?",
    "Write a scene involving {topic}.",
)
_STRSXP, _NA_LENGTH = 16, -1
_RDB = "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"


def read_rdb_strings(path: Path) -> list[list[str]]:
    """Every character vector stored in an R lazy-load database (.rdb: zlib blocks of XDR objects)."""
    data, vectors, pos = path.read_bytes(), [], 0
    while pos < len(data):
        inflater = zlib.decompressobj()
        blob = inflater.decompress(data[pos + 4 :])
        pos = len(data) - len(inflater.unused_data)
        vectors.append(_parse_strsxp(blob))
    return [v for v in vectors if v]


def _parse_strsxp(blob: bytes) -> list[str]:
    # header: "X\n", version, writer, min reader (3 ints), then native encoding (int length + bytes)
    enc_len = struct.unpack(">i", blob[14:18])[0]
    pos = 18 + enc_len
    flags, count = struct.unpack(">ii", blob[pos : pos + 8])
    if flags & 0xFF != _STRSXP:
        return []
    pos, out = pos + 8, []
    for _ in range(count):
        length = struct.unpack(">i", blob[pos + 4 : pos + 8])[0]
        pos += 8
        if length == _NA_LENGTH:
            continue
        out.append(blob[pos : pos + length].decode("utf-8", errors="replace"))
        pos += length
    return out


def austen_pairs(seed: int) -> list[Pair]:
    """Written Regency answers plus narrative paragraphs of 25+ words (clipped near 90) answering a topic request."""
    rng = random.Random(seed)
    pairs = []
    for lines in read_rdb_strings(fetch("austen") / _RDB):
        paragraph: list[str] = []
        for line in [*lines, ""]:
            if line.strip():
                paragraph.append(line.strip())
                continue
            text, paragraph = " ".join(paragraph), []
            if len(text.split()) >= 25 and not text.isupper() and (topic := topic_of(text)):
                pairs.append(Pair(ask(AUSTEN_ASKS, topic, rng), clip_words(text, 90)))
    return with_written("austen", pairs, rng)
