"""Styles with no real corpus offline: examples written for the Inkwell project (JSON lines)."""

from __future__ import annotations

import json
from pathlib import Path

from training.data.pairs import Pair

WRITTEN_DIR = Path(__file__).parent / "written"


def written_pairs(name: str) -> list[Pair]:
    """Every {"prompt", "response"} line of ``written/<name>.jsonl``."""
    path = WRITTEN_DIR / f"{name}.jsonl"
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not {"prompt", "response"} <= row.keys():
            raise ValueError(f"{path}:{number}: expected an object with 'prompt' and 'response'")
        pairs.append(Pair(row["prompt"], row["response"]))
    return pairs


def genz_pairs(seed: int) -> list[Pair]:
    """Gen-Z slang replies written for the Inkwell project (the seed is unused: the file is fixed)."""
    del seed
    return written_pairs("genz")
