"""Score cached replies: an all-styles classifier, promised style markers, repetition and the sonnet check."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from training.classifier import NEUTRAL, cross_validated_accuracy, train_classifier
from training.data import SEED, style_split
from training.data.chat import neutral_texts
from training.data.everyday import EVAL_REQUESTS, SONNET_REQUEST
from training.markers import MARKERS, line_count
from training.metrics import distinct_n, longest_repeat, max_ngram_count
from training.report import TrainingRow

CLASSIFIER_TEXTS = 300  # style texts per label (train and held-out replies of the style's data)
SAMPLE_REQUESTS = 3  # requests quoted per style in the report


@dataclass(frozen=True)
class RunScore:
    """The figures of one run (e.g. the adapter at its defaults) over the everyday requests."""

    own: float  # share of replies the classifier labels with this style
    marker: float | None  # share of replies with the style's promised marker (None: no marker promised)
    longest_repeat: int  # longest word n-gram repeated inside one reply, worst reply
    max_4gram: int  # most occurrences of one word 4-gram inside one reply, worst reply
    distinct2: float


@dataclass(frozen=True)
class StyleResult:
    """One style's scores by run, its sonnet line counts and sample replies."""

    style_id: str
    marker_name: str | None
    runs: dict[str, RunScore]
    sonnet_lines: dict[str, int]  # run -> lines of the reply to the sonnet request
    samples: tuple[tuple[str, str, str], ...]  # (request, base at defaults, adapter at defaults)


def style_classifier(labels: Sequence[str]):
    """(classifier, 5-fold accuracy) over every style's replies plus plain chat ('neutral'); no model output."""
    corpus = {}
    for label in labels:
        train, held = style_split(label)
        corpus[label] = [p.response for p in [*held, *train][:CLASSIFIER_TEXTS]]
    corpus[NEUTRAL] = neutral_texts(CLASSIFIER_TEXTS, SEED)
    return train_classifier(corpus), cross_validated_accuracy(corpus)


def score_run(style_id: str, replies: Sequence[str], classifier) -> RunScore:
    """The figures of one run's replies for ``style_id``."""
    marker = MARKERS.get(style_id)
    labels = classifier.predict(list(replies))
    return RunScore(
        own=statistics.fmean(label == style_id for label in labels),
        marker=statistics.fmean(map(marker.test, replies)) if marker else None,
        longest_repeat=max(map(longest_repeat, replies)), max_4gram=max(max_ngram_count(r, 4) for r in replies),
        distinct2=distinct_n(replies),
    )


def score_styles(styles: Sequence, replies: Mapping[str, Mapping[str, list[str]]], classifier) -> list[StyleResult]:
    """Every style's result, in id order."""
    sonnet = EVAL_REQUESTS.index(SONNET_REQUEST)
    results = []
    for style in sorted(styles, key=lambda s: s.id):
        runs = replies[style.id]
        marker = MARKERS.get(style.id)
        picks = [i for i, r in enumerate(EVAL_REQUESTS) if r != SONNET_REQUEST][:SAMPLE_REQUESTS] + [sonnet]
        results.append(StyleResult(
            style.id, marker.name if marker else None,
            {run: score_run(style.id, texts, classifier) for run, texts in runs.items()},
            {run: line_count(texts[sonnet]) for run, texts in runs.items()},
            tuple((EVAL_REQUESTS[i], runs["base_defaults"][i], runs["adapter_defaults"][i]) for i in picks),
        ))
    return results


def training_row(style) -> TrainingRow:
    """How the style's adapter was trained, from its training.json."""
    record = json.loads((style.adapter_path / "training.json").read_text())
    size = (style.adapter_path / "adapter_model.safetensors").stat().st_size
    return TrainingRow(style.id, record["command"], record["seconds"], size, record["config"]["steps"],
                       record.get("held_out_loss"), record.get("last_loss"))
