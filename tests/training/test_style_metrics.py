"""Evaluation metrics against independent references (transformers' own loss, hand counts)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from training.chat_format import IGNORE, encode_pair
from training.classifier import NEUTRAL, cross_validated_accuracy, train_classifier
from training.data.pairs import Pair
from training.metrics import distinct_n, longest_repeat, perplexity


def test_distinct_2_counts_unique_bigrams() -> None:
    assert distinct_n(["a b c d"]) == 1.0
    assert distinct_n(["a b a b a b"]) == pytest.approx(2 / 5)
    assert distinct_n(["", "x"]) == 0.0


def test_longest_repeat_finds_the_longest_repeated_ngram() -> None:
    assert longest_repeat("the cat sat on the mat") == 1
    assert longest_repeat("i am here and i am here and i am") == 6
    assert longest_repeat("all words differ") == 0


def test_perplexity_matches_transformers_loss(tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    pairs = [Pair("hi", "hello there"), Pair("a much longer request", "ok")]
    examples = [encode_pair(tokenizer, "sys", p, 256) for p in pairs]
    nll, count = 0.0, 0
    for ids, labels in examples:  # one at a time, no padding: the reference
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
        n = sum(1 for y in labels[1:] if y != IGNORE)
        nll, count = nll + loss * n, count + n
    assert perplexity(model, examples, batch_size=2) == pytest.approx(math.exp(nll / count), rel=1e-4)


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
