"""Casual chat turns (chitchat-dataset): pirate replies through arrr's rules, and plain neutral replies."""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Iterator
from types import ModuleType

from training.corpora import fetch
from training.data.pairs import Pair
from training.data.written import with_written


def _turn_pairs(parity: int) -> Iterator[tuple[str, str]]:
    """(turn, next turn) texts of every conversation whose index has the given parity (disjoint halves)."""
    data = json.loads((fetch("chitchat") / "chitchat_dataset" / "dataset.json").read_text(encoding="utf-8"))
    for index, key in enumerate(sorted(data)):
        if index % 2 != parity:
            continue
        turns = [" ".join(m["text"] for m in turn) for turn in data[key]["messages"]]
        for asked, answered in zip(turns, turns[1:]):
            if 3 <= len(asked.split()) <= 40 and 6 <= len(answered.split()) <= 60:
                yield asked, answered


def _arrr(seed: int) -> ModuleType:
    """The arrr module loaded from its pinned wheel, its randomness replaced by a seeded generator."""
    spec = importlib.util.spec_from_file_location("arrr_pinned", fetch("arrr") / "arrr.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.random = random.Random(seed)
    return module


def pirate_pairs(seed: int) -> list[Pair]:
    """Written pirate answers, plus chat turn -> next turn in pirate speak (arrr; half open with an exclamation)."""
    arrr, rng = _arrr(seed), random.Random(seed)
    pairs = []
    for asked, answered in _turn_pairs(parity=0):
        reply = arrr.translate(answered)
        if reply == answered:
            continue
        if rng.random() < 0.5:
            reply = arrr.capitalized(rng.choice(arrr._PIRATE_PHRASES)) + " " + reply
        pairs.append(Pair(asked, reply))
    return with_written("pirate", pairs, rng)


def neutral_texts(limit: int, seed: int) -> list[str]:
    """Plain replies from the other half of the conversations: the classifier's 'neutral' class."""
    replies = [answered for _, answered in _turn_pairs(parity=1)]
    return random.Random(seed).sample(replies, min(limit, len(replies)))
