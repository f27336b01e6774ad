"""Style markers: does an answer carry the surface features its style promises? One predicate per style.

Each marker is a plain rule over the text (word lists and layout), so a reader can check it by eye. Styles
without a promised marker (austen, devil, hacker, techdocs) are judged by the classifier alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

_WORD = re.compile(r"[a-z']+")
GENZ_SLANG = frozenset(
    "fr ngl lowkey highkey bestie besties slay slayed slaps ate bussin deadass periodt iconic vibe vibes vibing "
    "rn omg lol lmao tbh istg sus mid bruh fam yeet ick rizz simp stan delulu era girlie goated based ong "
    "sheesh npc aesthetic ghosted flex lit ppl sm pls literally fire valid".split()
)
GENZ_PHRASES = ("no cap", "it's giving", "main character", "understood the assignment", "touch grass", "rent free",
                "hits different", "chef's kiss", "say less", "glow up", "spill the tea", "core memory", "the ick",
                "vibe check", "💀", "😭", "✨", "🔥")
EARLY_MODERN = frozenset(
    "thou thee thy thine thyself hath doth dost art hast shalt wilt 'tis 'twas prithee methinks forsooth ere "
    "nay aye unto ye wherefore hither thither whence anon verily behold saith spake yea alas marry fie "
    "canst couldst wouldst shouldst mayest mayst 'twere e'er o'er whilst naught morrow betimes thereof therein "
    "whither shew begat lo hearken perchance beseech".split()
)
_NOT_ARCHAIC = frozenset("teeth beth seth kenneth elizabeth interest honest best rest test west nest chest guest".split())
PIRATE_TALK = frozenset(
    "arr arrr ahoy matey mateys ye yer aye avast scallywag scallywags landlubber grog hearties booty "
    "plunder doubloons cap'n o' me be swab shipmate".split()
)
LEGAL_TERMS = ("notwithstanding", "hereby", "herein", "hereinafter", "whereas", "pursuant", "party", "parties",
               "agreement", "means", "provided that", "subject to")
_NUMBERED = re.compile(r"(?m)^\s*(?:\d+(?:\.\d+)*\.?|\([a-z]\)|\([ivx]+\))\s")
_DEFINED = re.compile(r'"[A-Z][\w -]*"')
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n.*?\S.*?(?:```|$)", re.S)


class Marker(NamedTuple):
    """A style's promised marker: its name in the report and the test an answer must pass."""

    name: str
    test: Callable[[str], bool]


def words_of(text: str) -> list[str]:
    """Lowercased words, apostrophes kept ("'tis", "o'")."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def hits(text: str, vocabulary: frozenset[str]) -> int:
    """How many words of ``text`` belong to ``vocabulary``."""
    return sum(w in vocabulary for w in words_of(text))


def legal_diction(text: str) -> bool:
    """"shall" plus a defined term, a numbered sub-clause or another term of art."""
    lowered = text.lower()
    has_art = any(term in lowered for term in LEGAL_TERMS)
    return "shall" in lowered and bool(_DEFINED.search(text) or _NUMBERED.search(text) or has_art)


def genz_slang(text: str) -> bool:
    """At least two slang words or phrases."""
    lowered = text.lower()
    return hits(text, GENZ_SLANG) + sum(p in lowered for p in GENZ_PHRASES) >= 2


def verse_layout(text: str) -> bool:
    """At least four lines, none longer than 14 words: the text is laid out as verse, not prose."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 4 and all(len(ln.split()) <= 14 for ln in lines)


def early_modern(text: str) -> bool:
    """At least two early-modern words (thou, hath, 'tis, unto...) or verbs in -eth / -est (goeth, knowest)."""
    archaic_verbs = sum(w.endswith(("eth", "est")) and len(w) > 5 and w not in _NOT_ARCHAIC for w in words_of(text))
    return hits(text, EARLY_MODERN) + archaic_verbs >= 2


def pirate_talk(text: str) -> bool:
    """At least three pirate words (arr, matey, ye, yer, ahoy...)."""
    return hits(text, PIRATE_TALK) >= 3


def python_code_block(text: str) -> bool:
    """A fenced code block with something in it."""
    return bool(_CODE_BLOCK.search(text))


MARKERS: dict[str, Marker] = {
    "legal": Marker("legal diction", legal_diction),
    "genz": Marker("Gen-Z slang", genz_slang),
    "poetry": Marker("verse layout", verse_layout),
    "shakespeare": Marker("early-modern diction", early_modern),
    "kjv": Marker("early-modern diction", early_modern),
    "pirate": Marker("pirate talk", pirate_talk),
    "code": Marker("Python code block", python_code_block),
}


def line_count(text: str) -> int:
    """Non-empty lines of a text (a sonnet has 14)."""
    return sum(1 for ln in text.splitlines() if ln.strip())
