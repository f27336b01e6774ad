"""Examples written for the Inkwell project, for styles whose voice no offline corpus teaches on every topic.

Two file formats under ``written/``: ``<name>.jsonl`` (one ``{"prompt", "response"}`` object a line) and
``<name>.txt``, where each record starts with a line ``@@ <request>`` and the answer is every line after it
up to the next ``@@`` line (line breaks kept: verse, code, numbered clauses), surrounding blank lines dropped.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from training.data.pairs import Pair
from training.markers import MARKERS

WRITTEN_DIR = Path(__file__).parent / "written"
RECORD = "@@ "


def written_pairs(name: str) -> list[Pair]:
    """Every example of ``written/<name>.jsonl`` or ``written/<name>.txt``, in file order."""
    path = WRITTEN_DIR / f"{name}.jsonl"
    return _jsonl_pairs(path) if path.is_file() else parse_records(WRITTEN_DIR / f"{name}.txt")


def _jsonl_pairs(path: Path) -> list[Pair]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not {"prompt", "response"} <= row.keys():
            raise ValueError(f"{path}:{number}: expected an object with 'prompt' and 'response'")
        pairs.append(Pair(row["prompt"], row["response"]))
    return pairs


def parse_records(path: Path) -> list[Pair]:
    """The ``@@ request`` records of a written ``.txt`` file; an empty answer is an error naming its line."""
    pairs: list[Pair] = []
    prompt, body, start = None, [], 0
    for number, line in enumerate([*path.read_text(encoding="utf-8").splitlines(), RECORD], start=1):
        if not line.startswith(RECORD):
            body.append(line.rstrip())
            continue
        if prompt is not None:
            if not (answer := "\n".join(body).strip("\n")).strip():
                raise ValueError(f"{path}:{start}: the request {prompt!r} has no answer")
            pairs.append(Pair(prompt, answer))
        prompt, body, start = line[len(RECORD):].strip() or None, [], number
    return pairs


def genz_pairs(seed: int) -> list[Pair]:
    """Gen-Z replies written for the Inkwell project that carry its slang marker (the seed is unused)."""
    del seed
    return [p for p in written_pairs("genz") + written_pairs("genz_more") if MARKERS["genz"].test(p.response)]


WRITTEN_WEIGHT = 2  # each written example appears this many times: they answer the request, corpora rarely do
CORPUS_CAP = 300  # corpus pairs kept beside the written ones


def with_written(name: str, corpus: list[Pair], rng: random.Random, cap: int = CORPUS_CAP) -> list[Pair]:
    """``written/<name>`` examples (weighted) plus a seeded sample of at most ``cap`` corpus pairs.

    Where the style promises a marker (``training.markers``), only corpus pairs that carry it are sampled:
    corpus text without the voice's surface features would teach the adapter to drop them.
    """
    if (marker := MARKERS.get(name)) is not None:
        corpus = [p for p in corpus if marker.test(p.response)]
    return written_pairs(name) * WRITTEN_WEIGHT + rng.sample(corpus, min(cap, len(corpus)))
