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
from training.data.everyday import EVAL_REQUESTS, drop_held_out, is_held_out
from training.data.pairs import Pair, clip_words, request_key, split_pairs, topic_of
from training.data.written import WRITTEN_DIR, genz_pairs, parse_records, written_pairs
from training.markers import MARKERS, line_count
from styles.registry import load_styles

WRITTEN = ("genz", "genz_more", "code", "legal", "poetry", "shakespeare", "kjv", "pirate", "devil", "hacker",
           "techdocs", "austen")


def test_every_shipped_style_has_a_builder() -> None:
    assert set(load_styles().styles) <= set(BUILDERS)


def test_split_is_deterministic_and_disjoint() -> None:
    pairs = [Pair(f"q{i}", f"a{i}") for i in range(50)]
    train, held = split_pairs(pairs, seed=3, held_out=100)
    assert len(held) == 10 and len(train) == 40  # capped at a fifth
    assert set(train).isdisjoint(held) and set(train) | set(held) == set(pairs)
    assert split_pairs(pairs, seed=3, held_out=100) == (train, held)
    assert split_pairs(pairs, seed=4, held_out=100) != (train, held)


def test_split_keeps_every_request_on_one_side() -> None:
    pairs = [Pair(f"Question {i % 7}?", f"answer {i}") for i in range(40)]
    train, held = split_pairs(pairs, seed=1, held_out=8)
    assert held and {request_key(p.prompt) for p in train}.isdisjoint(request_key(p.prompt) for p in held)


def test_evaluation_requests_are_dropped_case_and_punctuation_blind() -> None:
    request = EVAL_REQUESTS[0]
    pairs = [Pair(request.upper().rstrip("."), "x"), Pair("Something else entirely.", "y")]
    assert is_held_out(request.lower()) and drop_held_out(pairs) == pairs[1:]


@pytest.mark.parametrize("name", WRITTEN)
def test_no_written_example_answers_an_evaluation_request(name: str) -> None:
    pairs = written_pairs(name)
    assert pairs and not [p.prompt for p in pairs if is_held_out(p.prompt)]


@pytest.mark.parametrize("name", ["code", "legal", "poetry", "shakespeare", "kjv", "pirate", "genz_more"])
def test_written_examples_carry_their_promised_marker(name: str) -> None:
    """Most written answers pass the marker rule (the rest are in voice too; corpora are filtered by it)."""
    marker = MARKERS[name.removesuffix("_more")]
    pairs = written_pairs(name)
    carried = [p for p in pairs if marker.test(p.response)]
    assert len(carried) >= 0.65 * len(pairs), [p.prompt for p in pairs if not marker.test(p.response)][:5]


def test_written_sonnets_have_fourteen_lines() -> None:
    sonnets = [p for p in written_pairs("poetry") if "sonnet" in p.prompt.lower()]
    assert len(sonnets) >= 5 and all(line_count(p.response) == 14 for p in sonnets)


def test_record_format_keeps_line_breaks_and_names_empty_answers(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("header line\n@@ Write code.\n```python\n# hi\n\nprint(1)\n```\n\n@@ Next?\nYes.\n")
    assert parse_records(path) == [Pair("Write code.", "```python\n# hi\n\nprint(1)\n```"), Pair("Next?", "Yes.")]
    path.write_text("@@ Empty?\n\n@@ Full?\nYes.\n")
    with pytest.raises(ValueError, match=r"x.txt:1: the request 'Empty\?' has no answer"):
        parse_records(path)


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


def test_written_genz_examples_are_many_and_unique() -> None:
    pairs = written_pairs("genz") + written_pairs("genz_more")
    prompts = [p.prompt for p in pairs]
    assert len(pairs) >= 640 and len(set(prompts)) == len(prompts)
    assert len({p.response for p in pairs}) == len(pairs)
    train, held = style_split("genz")
    assert len(held) == HELD_OUT and len(train) + len(held) == len(drop_held_out(genz_pairs(0))) >= 250
    assert all(MARKERS["genz"].test(p.response) for p in train)  # only the slang-marked ones are kept


def test_written_file_errors_name_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("training.data.written.WRITTEN_DIR", tmp_path)
    (tmp_path / "x.jsonl").write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n" + json.dumps({"p": 1}))
    with pytest.raises(ValueError, match=r"x.jsonl:2: expected an object with 'prompt' and 'response'"):
        written_pairs("x")
    assert WRITTEN_DIR.name == "written"
