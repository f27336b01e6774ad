"""Contract clauses: real EULA and commercial licence terms (scancode-toolkit's licence data) plus clauses
written for the Inkwell project that answer everyday requests (``written/legal.txt``)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from training.corpora import fetch
from training.data.pairs import Pair, ask, clip_words, paragraphs, topic_of
from training.data.written import with_written

CLAUSE_ASKS = (
    "Draft a clause about {topic}.",
    "Write a contract clause on {topic}.",
    "Draft a provision covering {topic}.",
    "Write the terms about {topic}.",
    "Put {topic} into legal language.",
)
DEFINE_ASKS = ('Define "{term}" for an agreement.', 'Write the definition of "{term}".')
CONTRACT_CATEGORIES = ("Commercial", "Proprietary Free")  # EULAs and commercial terms, not open source
_LICENSES = "licensedcode/data/licenses"
_CATEGORY = re.compile(r"^category:\s*(.+)$", re.M)
_NUMBERING = re.compile(r"^(?:\(?[0-9a-zA-Z]{1,3}[.)]|[0-9]+(?:\.[0-9]+)+\.?|§\s*\d+)\s+")
_DEFINITION = re.compile(r'^"([^"]{2,40})"(?: \(or "[^"]+"\))? (?:shall )?means?')
_OPEN_SOURCE = re.compile(r"open source|free software|GNU|copyleft|General Public", re.I)


def _pair(text: str, rng: random.Random) -> Pair | None:
    if (m := _DEFINITION.match(text)) is not None:
        return Pair(rng.choice(DEFINE_ASKS).format(term=m.group(1)), text)
    topic = topic_of(text)
    return Pair(ask(CLAUSE_ASKS, topic, rng), text) if topic else None


def contract_texts(folder: Path) -> list[str]:
    """The body (after the YAML front matter) of every licence in a contract category."""
    texts = []
    for path in sorted(folder.glob("*.LICENSE")):
        _, front, body = (path.read_text(encoding="utf-8", errors="replace").split("---", 2) + ["", ""])[:3]
        if (m := _CATEGORY.search(front)) is not None and m.group(1).strip() in CONTRACT_CATEGORIES:
            texts.append(body)
    return texts


def is_clause(text: str) -> bool:
    """Contract diction (shall / Agreement), 20+ words, no links, no open-source licence talk."""
    return (len(text.split()) >= 20 and "http" not in text and not _OPEN_SOURCE.search(text)
            and ("shall" in text or "Agreement" in text))


def corpus_pairs(rng: random.Random) -> list[Pair]:
    """Deduplicated clauses of the commercial licences, each answering a clause request."""
    seen: set[str] = set()
    pairs = []
    for body in contract_texts(fetch("scancode") / _LICENSES):
        for block in paragraphs(body):
            text = clip_words(_NUMBERING.sub("", block), 90)
            if is_clause(text) and text.lower() not in seen and (pair := _pair(text, rng)) is not None:
                seen.add(text.lower())
                pairs.append(pair)
    return pairs


def legal_pairs(seed: int) -> list[Pair]:
    """Written clauses answering requests plus real contract clauses."""
    rng = random.Random(seed)
    return with_written("legal", corpus_pairs(rng), rng, cap=250)
