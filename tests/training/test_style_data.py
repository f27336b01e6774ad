"""Dataset helpers and source parsers, on hand-built inputs in the sources' real formats."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from training.data import BUILDERS, HELD_OUT, style_split
from training.data.austen import read_rdb_strings
from training.data.bible import read_verses
from training.data.pairs import Pair, clip_words, split_pairs, topic_of
from training.data.written import WRITTEN_DIR, written_pairs
from training.evaluate import NEUTRAL_PROMPTS
from styles.registry import load_styles


def test_every_shipped_style_has_a_builder() -> None:
    assert set(load_styles().styles) <= set(BUILDERS)


def test_split_is_deterministic_and_disjoint() -> None:
    pairs = [Pair(f"q{i}", f"a{i}") for i in range(50)]
    train, held = split_pairs(pairs, seed=3, held_out=100)
    assert len(held) == 10 and len(train) == 40  # capped at a fifth
    assert set(train).isdisjoint(held) and set(train) | set(held) == set(pairs)
    assert split_pairs(pairs, seed=3, held_out=100) == (train, held)
    assert split_pairs(pairs, seed=4, held_out=100) != (train, held)


def test_topic_prefers_the_most_frequent_common_word() -> None:
    assert topic_of("The river ran on; the river sang, and the moon watched the river.") == "river"
    assert topic_of("of the and but") == ""


def test_clip_words_cuts_at_a_sentence_end() -> None:
    text = "One two three four. Five six seven eight nine ten eleven."
    assert clip_words(text, 8) == "One two three four."
    assert clip_words(text, 100) == text


def _r_strings_blob(strings: list[str | None]) -> bytes:
    """An R XDR serialization (format 3) of a character vector, built from R's documented layout."""
    out = b"X\n" + struct.pack(">iii", 3, 0x040201, 0x030500) + struct.pack(">i", 5) + b"UTF-8"
    out += struct.pack(">ii", 16, len(strings))  # STRSXP, length
    for s in strings:
        if s is None:
            out += struct.pack(">ii", 9, -1)  # NA_STRING
        else:
            raw = s.encode()
            out += struct.pack(">ii", 0x00040009, len(raw)) + raw  # CHARSXP, UTF-8 flag
    return out


def test_rdb_reader_returns_each_character_vector(tmp_path: Path) -> None:
    blobs = [_r_strings_blob(["It is a truth", None, "universally acknowledged"]), _r_strings_blob(["Emma"])]
    data = b"".join(struct.pack(">I", len(b)) + zlib.compress(b) for b in blobs)
    (tmp_path / "Rdata.rdb").write_bytes(data)
    assert read_rdb_strings(tmp_path / "Rdata.rdb") == [["It is a truth", "universally acknowledged"], ["Emma"]]


def test_bible_reader_uses_verse_offsets_without_running_code(tmp_path: Path) -> None:
    text = "\n1. In the beginning [was] light. 2. And it was good.\n"
    starts = {1001001: 1, 1001002: text.index("2.")}
    ends = {1001001: text.index("2."), 1001002: len(text)}
    module = f"import os\nos.exit(1)\nbible = Bible(V, {text!r}, {starts!r}, {ends!r}, {{}}, {{}}, {{}}, False)\n"
    (tmp_path / "plain_text_bible.py").write_text(module)
    assert read_verses(tmp_path / "plain_text_bible.py") == {
        1001001: "In the beginning was light.", 1001002: "And it was good."}


def test_written_genz_examples_are_many_unique_and_apart_from_eval_prompts() -> None:
    pairs = written_pairs("genz")
    prompts = [p.prompt for p in pairs]
    assert len(pairs) >= 600 and len(set(prompts)) == len(prompts)
    assert len({p.response for p in pairs}) == len(pairs)
    assert not set(prompts) & set(NEUTRAL_PROMPTS)
    train, held = style_split("genz")
    assert len(held) == HELD_OUT and len(train) == len(pairs) - HELD_OUT  # a fifth would exceed HELD_OUT


def test_written_file_errors_name_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("training.data.written.WRITTEN_DIR", tmp_path)
    (tmp_path / "x.jsonl").write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n" + json.dumps({"p": 1}))
    with pytest.raises(ValueError, match=r"x.jsonl:2: expected an object with 'prompt' and 'response'"):
        written_pairs("x")
    assert WRITTEN_DIR.name == "written"
