"""Does each adapter sound like its style on everyday requests? The replies behind docs/STYLES.md.

Generation runs through Inkwell's own engine (``engine.LLM``), one style per invocation, on the held-out
everyday requests (``training.data.everyday``) that no style trained on, three ways: the adapter at the
style's default strength and sampling, the adapter greedy (at that strength), and the base model with the
style's system prompt and default sampling (the control). Replies are cached in ``styles/<id>/evaluation.json`` under a key of the adapter's
sha256, the system prompt, the defaults and the requests, so a re-run only generates what changed.
The report then scores every style's cached replies: an all-styles classifier, style markers, repetition.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from engine.lines import HARD_WRAP, WRAP_AT
from engine.sampling_params import SamplingParams
from styles.forms import FORM_LINES, form_lines
from training.corpora import sha256_of
from training.data import SEED
from training.data.everyday import EVAL_REQUESTS
from training.replies import GREEDY, adapter_request, open_engine, reply_all, seeded

log = logging.getLogger(__name__)

EVAL_CACHE = "evaluation.json"  # per style, beside style.toml


def cache_key(style) -> str:
    """Adapter weights, system prompt, defaults, requests and verse forms: any change regenerates."""
    forms = [FORM_LINES, WRAP_AT, HARD_WRAP]
    spec = json.dumps([style.system_prompt, style.defaults, EVAL_REQUESTS, *forms], sort_keys=True).encode()
    adapter = sha256_of(style.adapter_path / "adapter_model.safetensors")
    return f"{adapter} spec={hashlib.sha256(spec).hexdigest()[:16]}"


def cached_replies(style) -> dict[str, list[str]] | None:
    """The style's cached replies by run, or None when missing or stale."""
    path = style.adapter_path.parent / EVAL_CACHE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("replies") if data.get("key") == cache_key(style) else None


def as_asked(params: list[SamplingParams], requests: Sequence[str] = EVAL_REQUESTS) -> list[SamplingParams]:
    """Each request's params with the line count of the verse form it asks for, as the API sets it."""
    return [replace(p, lines=form_lines(request)) for p, request in zip(params, requests)]


def style_replies(style, model_dir: Path, threads: int | None = None) -> dict[str, list[str]]:
    """Generate (or reuse) the three runs' replies to the everyday requests and cache them."""
    if (replies := cached_replies(style)) is not None:
        return replies
    llm, count = open_engine(model_dir, threads), len(EVAL_REQUESTS)
    defaults = style.sampling_params()
    greedy = replace(GREEDY, max_tokens=defaults.max_tokens)
    adapter = adapter_request(style, style.strength)
    runs = {"adapter_defaults": (as_asked(seeded(defaults, count, SEED)), adapter),
            "adapter_greedy": (as_asked([greedy] * count), adapter),
            "base_defaults": (as_asked(seeded(defaults, count, SEED)), None)}
    replies = {name: reply_all(llm, style.system_prompt, EVAL_REQUESTS, params, lora)
               for name, (params, lora) in runs.items()}
    payload = {"key": cache_key(style), "requests": list(EVAL_REQUESTS), "replies": replies}
    (style.adapter_path.parent / EVAL_CACHE).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n",
                                                         encoding="utf-8")
    log.info("%s: %d replies generated", style.id, sum(map(len, replies.values())))
    return replies
