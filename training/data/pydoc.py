"""Technical documentation: the Python 3.11 reference (reST sources in Debian's python3.11-doc)."""

from __future__ import annotations

import random
import re

from training.corpora import fetch
from training.data.pairs import Pair, clip_words, open_ask, topic_of
from training.data.written import with_written

DOC_ASKS = (
    "Document {topic}.",
    "Explain {topic}.",
    "Write the documentation for {topic}.",
    "What does {topic} do?",
    "Describe {topic} for the reference manual.",
)
_SOURCES = "usr/share/doc/python3.11/html/_sources"
_DIRECTIVE = re.compile(r"^\s*\.\. (?:function|method|class|attribute|data|exception|decorator)::\s*(.+)$")
_UNDERLINE = re.compile(r"^([=\-~*^\"#])\1{3,}\s*$")
_ROLE = re.compile(r":[a-z:]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def clean_rst(text: str) -> str:
    """Inline reST markup reduced to plain text with ``code`` quoting kept."""
    text = _ROLE.sub(r"``\1``", text)
    text = text.replace("**", "").replace("\\", "")
    return " ".join(text.split())


def _is_prose(block: list[str]) -> bool:
    first = block[0]
    return not first.lstrip().startswith(("..", ">>>", "|", "+", "-", "*", "=", ":")) and "::" not in first


def _pairs_of(lines: list[str], rng: random.Random) -> list[Pair]:
    pairs, topic, block = [], "", []
    for i, line in enumerate([*lines, ""]):
        if (m := _DIRECTIVE.match(line)) is not None:
            topic = f"``{m.group(1).strip()}``"
        elif i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and line.strip() and not _UNDERLINE.match(line):
            topic = f"the section \"{clean_rst(line)}\""
        elif line.strip():
            block.append(line)
            continue
        if block and topic and _is_prose(block):
            text = clean_rst(" ".join(block))
            if len(text.split()) >= 15:
                request = open_ask(topic_of(text), rng) or rng.choice(DOC_ASKS).format(topic=topic)
                pairs.append(Pair(request, clip_words(text, 90)))
                topic = ""
        block = []
    return pairs


def techdocs_pairs(seed: int) -> list[Pair]:
    """Written reference-style answers, plus the first prose paragraph under each API directive or heading."""
    rng = random.Random(seed)
    pairs = []
    for path in sorted((fetch("pydoc") / _SOURCES).rglob("*.rst.txt")):
        if path.parts[-2] in ("whatsnew", "faq"):
            continue
        pairs.extend(_pairs_of(path.read_text(encoding="utf-8", errors="replace").splitlines(), rng))
    return with_written("techdocs", pairs, rng)
