"""Contract clauses from the SPDX license texts (the ``spdx`` PyPI package), deduplicated."""

from __future__ import annotations

import random
import re

from training.corpora import fetch
from training.data.pairs import Pair, ask, clip_words, paragraphs, topic_of

CLAUSE_ASKS = (
    "Draft a clause about {topic}.",
    "Write a contract clause on {topic}.",
    "Draft a provision covering {topic}.",
    "Write the terms about {topic}.",
    "Put {topic} into legal language.",
)
DEFINE_ASKS = ('Define "{term}" for an agreement.', 'Write the definition of "{term}".')
_NUMBERING = re.compile(r"^(?:\(?[0-9a-zA-Z]{1,3}[.)]|[0-9]+(?:\.[0-9]+)+\.?|§\s*\d+)\s+")
_DEFINITION = re.compile(r'^"([^"]{2,40})"(?: \(or "[^"]+"\))? (?:shall )?means?')


def _pair(text: str, rng: random.Random) -> Pair | None:
    if (m := _DEFINITION.match(text)) is not None:
        return Pair(rng.choice(DEFINE_ASKS).format(term=m.group(1)), text)
    topic = topic_of(text)
    return Pair(ask(CLAUSE_ASKS, topic, rng), text) if topic else None


def legal_pairs(seed: int) -> list[Pair]:
    """Numbered-or-not paragraphs of 20+ words from every license, each answering a clause request."""
    rng = random.Random(seed)
    seen: set[str] = set()
    pairs = []
    for path in sorted((fetch("spdx") / "spdx" / "data").glob("*.txt")):
        for block in paragraphs(path.read_text(encoding="utf-8", errors="replace")):
            text = clip_words(_NUMBERING.sub("", block), 90)
            key = text.lower()
            if len(text.split()) < 20 or key in seen or "http" in text:
                continue
            seen.add(key)
            if (pair := _pair(text, rng)) is not None:
                pairs.append(pair)
    return pairs
