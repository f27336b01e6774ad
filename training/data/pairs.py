"""Instruction pairs: the shared vocabulary of every dataset builder."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from tokenizers import Tokenizer

from engine.model_store import DEFAULT_MODEL, resolve_model

_STOPWORDS = frozenset(
    """about above after again against all also among another any are because been before being
    below between both but came can come could did does doing down during each either else even
    ever every from further had has have having here hers herself him himself his how however into
    its itself just like made make many may might more most much must myself never nor not now off
    once only other ought our ours ourselves out over own same shall she should since some still such
    than that the their theirs them themselves then there these they thee thine this those thou
    though through thus thy till too under unto until upon very was were what when where which while
    who whom whose why will with within without would yet you your yours yourself yourselves hath
    doth unto shalt wilt art said says say one two three first let well upon therefore also
    whether""".split()
)
_WORD = re.compile(r"[A-Za-z][a-z']+")


@dataclass(frozen=True)
class Pair:
    """One training example: a user request and the styled reply."""

    prompt: str
    response: str


@cache
def _common_words() -> frozenset[str]:
    """Lowercase words the base tokenizer holds as one token after a space: a cheap 'modern and common'."""
    vocab = Tokenizer.from_file(str(resolve_model(DEFAULT_MODEL) / "tokenizer.json")).get_vocab()
    return frozenset(t[1:] for t in vocab if t.startswith("\u0120") and t[1:].isalpha() and t[1:].islower())


def topic_of(text: str) -> str:
    """The text's most frequent common content word (ties: first seen), lowercased; '' when none."""
    common = _common_words()
    words = [w.lower() for w in _WORD.findall(text)]
    content = [w for w in words if len(w) >= 4 and w not in _STOPWORDS and w in common]
    if not content:
        return ""
    counts = Counter(content)
    return max(content, key=lambda w: (counts[w], -content.index(w)))


OPEN_ASKS = (
    "Tell me about {topic}.", "What do you think of {topic}?", "Describe {topic}.", "Say a few words about {topic}.",
    "Talk to me about {topic}.", "Any thoughts on {topic}?", "What is {topic} like?", "Write a little about {topic}.",
    "I keep thinking about {topic}. What would you say?", "Explain {topic} to me.",
)
OPEN_SHARE = 0.5  # share of requests phrased as open questions rather than the style's own task


def open_ask(topic: str, rng: random.Random) -> str | None:
    """An open question on ``topic`` for ``OPEN_SHARE`` of the calls (None otherwise, or without a topic).

    Open questions teach an adapter to keep its voice whatever the request looks like, not only for
    the requests its corpus suggests ("write a poem about X").
    """
    if not topic or rng.random() >= OPEN_SHARE:
        return None
    return rng.choice(OPEN_ASKS).format(topic=topic)


def ask(templates: Sequence[str], topic: str, rng: random.Random) -> str:
    """A request on ``topic``: an open question (``open_ask``) or one of ``templates`` (each holding ``{topic}``)."""
    return open_ask(topic, rng) or rng.choice(templates).format(topic=topic)


def clip_words(text: str, max_words: int) -> str:
    """Cut ``text`` to at most ``max_words`` words, at the last sentence end when there is one."""
    words = text.split(" ")
    if len(words) <= max_words:
        return text
    cut = " ".join(words[:max_words])
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "), cut.rfind("; "))
    return cut[: end + 1] if end > len(cut) // 3 else cut


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks with inner whitespace collapsed."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]


def split_pairs(pairs: Sequence[Pair], seed: int, held_out: int) -> tuple[list[Pair], list[Pair]]:
    """Shuffle deterministically and hold back about ``held_out`` pairs (at most a fifth), by request.

    Pairs that share a request (compared case- and punctuation-insensitively) land on the same side, so
    no held-out request is ever trained on.
    """
    groups: dict[str, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(request_key(pair.prompt), []).append(pair)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    limit, held, train = min(held_out, len(pairs) // 5), [], []
    for key in keys:
        (held if len(held) < limit else train).extend(groups[key])
    random.Random(seed + 1).shuffle(train)
    return train, held


def request_key(prompt: str) -> str:
    """A request compared case-, space- and punctuation-insensitively."""
    return " ".join("".join(c for c in prompt.lower() if c.isalnum() or c.isspace()).split())
