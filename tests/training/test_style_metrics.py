"""Evaluation metrics and style markers against hand counts; the chat encoding and the classifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.chat_format import IGNORE, encode_pair
from training.classifier import NEUTRAL, cross_validated_accuracy, train_classifier
from training.data.pairs import Pair
from training.markers import MARKERS, line_count
from training.metrics import distinct_n, longest_repeat, max_ngram_count


def test_distinct_2_counts_unique_bigrams() -> None:
    assert distinct_n(["a b c d"]) == 1.0
    assert distinct_n(["a b a b a b"]) == pytest.approx(2 / 5)
    assert distinct_n(["", "x"]) == 0.0


def test_max_ngram_count_counts_the_most_repeated_4gram() -> None:
    assert max_ngram_count("thar be gold thar be gold thar be gold here") == 2
    assert max_ngram_count("a b c d a b c d a b c d") == 3
    assert max_ngram_count("too short") == 0


@pytest.mark.parametrize(("style", "yes", "no"), [
    ("legal", '1. The Tenant shall pay the "Rent" monthly.', "You should pay the rent every month."),
    ("genz", "ngl that fit is bussin fr", "That outfit looks very nice."),
    ("poetry", "The sea is grey,\nThe gulls away,\nThe tide comes in,\nThe day grows thin.",
     "The sea is grey and the gulls are away, and the tide comes in as the day grows thin."),
    ("shakespeare", "Prithee, tell me what thou hast seen.", "Please tell me what you have seen."),
    ("pirate", "Arr, ye be a fine matey!", "You are a fine friend!"),
    ("code", "```python\n# add\nprint(1 + 1)\n```", "Just add one and one."),
])
def test_markers_tell_the_style_from_plain_text(style: str, yes: str, no: str) -> None:
    assert MARKERS[style].test(yes) and not MARKERS[style].test(no)


def test_line_count_skips_blank_lines() -> None:
    assert line_count("a\n\nb\n  \nc") == 3


def test_longest_repeat_finds_the_longest_repeated_ngram() -> None:
    assert longest_repeat("the cat sat on the mat") == 1
    assert longest_repeat("i am here and i am here and i am") == 6
    assert longest_repeat("all words differ") == 0


def test_encode_pair_puts_loss_on_the_reply_only(tiny_llama_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    ids, labels = encode_pair(tokenizer, "sys", Pair("hi", "yo"), 256)
    reply = [y for y in labels if y != IGNORE]
    assert tokenizer.decode(reply) == "yo<|im_end|>"
    assert tokenizer.decode(ids).startswith("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi")
    assert encode_pair(tokenizer, "sys", Pair("hi", "yo"), 10) is None


def test_classifier_separates_distinct_styles() -> None:
    corpus = {
        "pirate": ["arr matey, ye be a scurvy dog", "ahoy, th' treasure be buried", "avast ye, me hearty",
                   "yo ho ho, th' sea be rough", "arr, ye landlubber"],
        NEUTRAL: ["I went to the shop today.", "The meeting is at noon.", "Could you send the file?",
                  "We had pasta for dinner.", "The train was late again."],
    }
    classifier = train_classifier(corpus)
    assert list(classifier.predict(["arr, ye be a scallywag matey", "Please send the report by noon."])) == [
        "pirate", NEUTRAL]
    assert cross_validated_accuracy(corpus, folds=5) >= 0.8
    with pytest.raises(ValueError, match="too few for: lonely"):
        train_classifier({**corpus, "lonely": ["one"]})
