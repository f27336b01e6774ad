"""The code style: everyday requests answered as short, commented Python, written for the Inkwell project."""

from __future__ import annotations

from training.data.pairs import Pair
from training.data.written import written_pairs


def code_pairs(seed: int) -> list[Pair]:
    """Every written request -> Python code block pair (the seed is unused: the file is fixed)."""
    del seed
    return written_pairs("code")
