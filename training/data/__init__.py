"""Dataset builders: style id -> a function(seed) returning that style's instruction pairs."""

from __future__ import annotations

from collections.abc import Callable

from training.data.austen import austen_pairs
from training.data.bible import kjv_pairs
from training.data.chat import pirate_pairs
from training.data.code import code_pairs
from training.data.everyday import drop_held_out
from training.data.glossary import devil_pairs, hacker_pairs
from training.data.gutenberg import poetry_pairs, shakespeare_pairs
from training.data.legal import legal_pairs
from training.data.pairs import Pair, split_pairs
from training.data.pydoc import techdocs_pairs
from training.data.written import genz_pairs

BUILDERS: dict[str, Callable[[int], list[Pair]]] = {
    "poetry": poetry_pairs,
    "legal": legal_pairs,
    "genz": genz_pairs,
    "shakespeare": shakespeare_pairs,
    "kjv": kjv_pairs,
    "techdocs": techdocs_pairs,
    "austen": austen_pairs,
    "pirate": pirate_pairs,
    "devil": devil_pairs,
    "hacker": hacker_pairs,
    "code": code_pairs,
}


def build_pairs(style_id: str, seed: int) -> list[Pair]:
    """All instruction pairs of a style, deterministic for a seed, without the evaluation's requests."""
    if style_id not in BUILDERS:
        raise KeyError(f"no dataset builder for style {style_id!r}; known: {', '.join(sorted(BUILDERS))}")
    return drop_held_out(BUILDERS[style_id](seed))


SEED = 0  # the one seed of every dataset shuffle and split
HELD_OUT = 40  # pairs per style kept back for perplexity and the classifier (at most a fifth of them)


def style_split(style_id: str, seed: int = SEED) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) pairs of a style, split by request; training and evaluation both call this."""
    return split_pairs(build_pairs(style_id, seed), seed, HELD_OUT)
