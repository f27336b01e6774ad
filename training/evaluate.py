"""Does each adapter sound like its style? Writes docs/STYLES.md and a PNG.

Per style: held-out perplexity of the base and of the adapter (same system prompt); a TF-IDF classifier,
trained on held-out style text only, labels the adapter's and the base's replies to the style's three
examples plus 20 neutral prompts; fluency (distinct-2, longest repeated n-gram); sample outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from training.chat_format import encode_pair
from training.classifier import NEUTRAL, cross_validated_accuracy, train_classifier
from training.corpora import sha256_of
from training.data import SEED, style_split
from training.data.chat import neutral_texts
from training.peft_generation import BASE, generate, load_with_adapters
from training.metrics import distinct_n, longest_repeat, perplexity
from training.report import TrainingRow

log = logging.getLogger(__name__)

EVAL_CACHE = "evaluation.json"  # per style, beside style.toml

NEUTRAL_PROMPTS = (
    "Tell me about your day.", "Describe the city where you live.", "What should I cook for dinner tonight?",
    "Explain how a bicycle works.", "Write a few sentences about winter.", "What makes a good friend?",
    "Give me advice for a job interview.", "Describe a walk in the forest.", "Why do people keep pets?",
    "What is the best way to learn something new?", "Tell me about the history of bread.",
    "How should I spend a quiet Sunday?", "Describe the sound of rain.", "What do you think about money?",
    "Write something about mountains.", "Explain why the seasons change.", "What is important in a home?",
    "Say something about time.", "Describe an old library.", "What is courage?",
)


@dataclass(frozen=True)
class StyleResult:
    """Every figure of one style's evaluation."""

    style_id: str
    ppl_base: float
    ppl_adapter: float
    own_adapter: float  # share of adapter replies the classifier labels with this style
    own_base: float  # the same for the base model's replies (control)
    distinct2_adapter: float
    distinct2_base: float
    worst_repeat_adapter: int  # longest repeated word n-gram over the adapter's replies
    samples: tuple[tuple[str, str, str], ...]  # (prompt, base reply, adapter reply)

    @property
    def ppl_ratio(self) -> float:
        """Adapter perplexity / base perplexity (target <= 0.7)."""
        return self.ppl_adapter / self.ppl_base


def training_row(style) -> TrainingRow:
    """How the style's adapter was trained, from its training.json."""
    record = json.loads((style.adapter_path / "training.json").read_text())
    size = (style.adapter_path / "adapter_model.safetensors").stat().st_size
    return TrainingRow(style.id, record["command"], record["seconds"], size, record["config"]["steps"])


def evaluate(
    styles: list, model_dir: Path, ppl_pairs: int, max_new_tokens: int, labels: list[str] | None = None
) -> tuple[list[StyleResult], float]:
    """Evaluate ``styles``; returns the results and the classifier's cross-validated accuracy.

    The classifier knows the style ids in ``labels`` (default: the evaluated ones) plus 'neutral'.

    Each style's figures are cached in ``styles/<id>/evaluation.json`` under a key made of its adapter's
    sha256, the settings and the classifier's training text, so a re-run only evaluates what changed.
    """
    torch.manual_seed(SEED)
    held = {sid: style_split(sid)[1] for sid in sorted({*(labels or []), *(s.id for s in styles)})}
    corpus = {sid: [p.response for p in pairs] for sid, pairs in held.items()}
    corpus[NEUTRAL] = neutral_texts(100, SEED)
    classifier, cv = train_classifier(corpus), cross_validated_accuracy(corpus)
    log.info("style classifier: %d labels, %.1f %% cross-validated accuracy", len(corpus), 100 * cv)
    keys = {s.id: _cache_key(s, corpus, held[s.id][:ppl_pairs], max_new_tokens) for s in styles}
    results = {s.id: r for s in styles if (r := _cached(s, keys[s.id])) is not None}
    todo = [s for s in styles if s.id not in results]
    if todo:
        tokenizer, model = load_with_adapters(model_dir, {s.id: s.adapter_path for s in todo})
    for style in todo:
        result = _evaluate_style(style, held[style.id][:ppl_pairs], tokenizer, model, classifier, max_new_tokens)
        _store(style, keys[style.id], result)
        results[style.id] = result
        log.info("%s: ppl %.1f -> %.1f, own style %.0f %% (base %.0f %%)", style.id, result.ppl_base,
                 result.ppl_adapter, 100 * result.own_adapter, 100 * result.own_base)
    return [results[s.id] for s in styles], cv


def _cache_key(style, corpus: dict[str, list[str]], ppl_pairs: list, max_new_tokens: int) -> str:
    """Adapter weights, system prompt, classifier text and perplexity pairs: any change re-evaluates."""
    adapter = sha256_of(style.adapter_path / "adapter_model.safetensors")
    data = json.dumps([corpus, [dataclasses.astuple(p) for p in ppl_pairs]], sort_keys=True).encode()
    labels = ",".join(sorted(corpus))
    return (f"{adapter} {style.system_prompt!r} {labels} data={hashlib.sha256(data).hexdigest()[:16]} "
            f"ppl={len(ppl_pairs)} new={max_new_tokens}")


def _cached(style, key: str) -> StyleResult | None:
    path = style.adapter_path.parent / EVAL_CACHE
    if not path.is_file() or (data := json.loads(path.read_text()))["key"] != key:
        return None
    fields = data["result"]
    return StyleResult(**{**fields, "samples": tuple(tuple(s) for s in fields["samples"])})


def _store(style, key: str, result: StyleResult) -> None:
    payload = {"key": key, "result": dataclasses.asdict(result)}
    (style.adapter_path.parent / EVAL_CACHE).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def _evaluate_style(style, pairs, tokenizer, model, classifier, max_new_tokens: int) -> StyleResult:
    examples = [e for p in pairs if (e := encode_pair(tokenizer, style.system_prompt, p, 128))]
    model.set_adapter(style.id)
    ppl_adapter = perplexity(model, examples)
    with model.disable_adapter():
        ppl_base = perplexity(model, examples)
    requests = [*style.examples, *NEUTRAL_PROMPTS]
    names = [style.id] * len(requests) + [BASE] * len(requests)
    replies = generate(tokenizer, model, style.system_prompt, requests * 2, names, max_new_tokens)
    adapter_out, base_out = replies[: len(requests)], replies[len(requests) :]
    own = lambda texts: statistics.fmean(label == style.id for label in classifier.predict(texts))  # noqa: E731
    return StyleResult(
        style.id, ppl_base, ppl_adapter, own(adapter_out), own(base_out), distinct_n(adapter_out),
        distinct_n(base_out), max(map(longest_repeat, adapter_out)),
        tuple(zip(style.examples, base_out[:3], adapter_out[:3])),
    )
