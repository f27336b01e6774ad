"""The code style: everyday requests answered as short, commented Python in a code block.

Written pairs (``written/code.txt``) answer everyday requests; the Python docs' commented example blocks
(Debian python3.11-doc: tutorial, how-tos, library reference) add real idiomatic code, each introduced by
the sentence that precedes it in the docs, as a comment.
"""

from __future__ import annotations

import random
import re
import textwrap
from pathlib import Path

from training.corpora import fetch
from training.data.pairs import Pair, topic_of
from training.data.pydoc import clean_rst
from training.data.written import with_written

EXAMPLE_ASKS = ("Show me Python code for {topic}.", "How do I do {topic} in Python?",
                "Write a short Python example about {topic}.")
_SOURCES = "usr/share/doc/python3.11/html/_sources"
_FOLDERS = ("tutorial", "howto", "library")
_BLOCK = re.compile(r"(?ms)^(?P<prose>[^\n]+(?:\n[^\n]+)*)::\n\n(?P<code>(?:(?: {3,}[^\n]*)?\n)+)")


def example_pair(prose: str, code: str, rng: random.Random) -> Pair | None:
    """A request about the prose's topic answered by its commented code block; None if not usable."""
    code = textwrap.dedent(code).strip("\n")
    lines = code.splitlines()
    if not 3 <= len(lines) <= 15 or ">>>" in code or not any(ln.lstrip().startswith("#") for ln in lines):
        return None
    try:
        compile(code, "<docs>", "exec")
    except (SyntaxError, ValueError):
        return None
    sentence = clean_rst(prose).rstrip(":.").split(". ")[-1]
    if len(sentence.split()) < 5 or not (topic := topic_of(sentence)):
        return None
    answer = f"```python\n# {sentence}.\n{code}\n```"
    return Pair(rng.choice(EXAMPLE_ASKS).format(topic=topic), answer)


def docs_examples(root: Path, rng: random.Random) -> list[Pair]:
    """Every usable commented example block of the chosen doc folders."""
    pairs = []
    for folder in _FOLDERS:
        for path in sorted((root / folder).rglob("*.rst.txt")):
            for m in _BLOCK.finditer(path.read_text(encoding="utf-8", errors="replace")):
                if (pair := example_pair(m.group("prose"), m.group("code"), rng)) is not None:
                    pairs.append(pair)
    return pairs


def code_pairs(seed: int) -> list[Pair]:
    """Written request -> Python pairs plus up to 100 commented examples from the Python docs."""
    rng = random.Random(seed)
    return with_written("code", docs_examples(fetch("pydoc") / _SOURCES, rng), rng, cap=100)
