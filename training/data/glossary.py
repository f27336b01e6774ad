"""Definitions: The Devil's Dictionary (dict-devil) and The Jargon File (jargon-text), from Debian."""

from __future__ import annotations

import gzip
import random
import re

from training.corpora import fetch
from training.data.pairs import Pair, clip_words, open_ask
from training.data.written import with_written

DEVIL_ASKS = ("Define {term}.", "What is {term}?", "What does {term} mean?", "Give me a definition of {term}.")
HACKER_ASKS = (
    "What does {term} mean?",
    "Define {term}.",
    "Explain {term}.",
    "What is {term}?",
    "Tell me about {term}.",
)
_DEVIL_ENTRY = re.compile(r"^([A-Z][A-Z' -]+), (n|v|adj|adv|v\.t|v\.i|pp|x)\.", re.M)
_JARGON_ENTRY = re.compile(r"^   :([^:]{1,40}):(.*)$", re.M)


def devil_pairs(seed: int) -> list[Pair]:
    """Written entries for everyday requests, plus Devil's Dictionary entries (prose, not verse) for "define X"."""
    rng = random.Random(seed)
    raw = gzip.decompress((fetch("devil") / "usr/share/dictd/devil.dict.dz").read_bytes()).decode("latin-1")
    pairs = []
    for block in re.split(r"\n\s*\n", raw):
        if (m := _DEVIL_ENTRY.match(block)) is None:
            continue
        text = clip_words(" ".join(block.replace("{", "").replace("}", "").split()), 80)
        term = m.group(1).strip().lower()
        pairs.append(Pair(open_ask(term, rng) or rng.choice(DEVIL_ASKS).format(term=term), text))
    return with_written("devil", pairs, rng)


def hacker_pairs(seed: int) -> list[Pair]:
    """Written answers, plus each Jargon File entry's first paragraph(s), up to 80 words, for "what does X mean"."""
    rng = random.Random(seed)
    text = gzip.decompress((fetch("jargon") / "usr/share/doc/jargon-text/jargon.txt.gz").read_bytes())
    entries = _JARGON_ENTRY.split(text.decode("utf-8", errors="replace"))
    pairs = []
    for term, _pos, body in zip(entries[1::3], entries[2::3], entries[3::3]):
        prose = " ".join(body.replace("{", "").replace("}", "").split())
        if len(prose.split()) >= 8:
            request = open_ask(term, rng) or rng.choice(HACKER_ASKS).format(term=term)
            pairs.append(Pair(request, clip_words(prose, 80)))
    return with_written("hacker", pairs, rng)
