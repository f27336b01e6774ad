"""``inkwell eval-styles``: does each adapter sound like its style on everyday requests? Writes docs/STYLES.md.

Generation runs through Inkwell's own engine (``engine.LLM``), one style per invocation, on the held-out
everyday requests (``training.data.everyday``) that no style trained on, three ways: the adapter with the
style's default sampling, the adapter greedy, and the base model with the style's system prompt and
default sampling (the control). Replies are cached in ``styles/<id>/evaluation.json`` under a key of the adapter's
sha256, the system prompt, the defaults and the requests, so a re-run only generates what changed.
The report then scores every style's cached replies: an all-styles classifier, style markers, repetition.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from engine.model_store import DEFAULT_MODEL, resolve_model
from styles.registry import STYLES_DIR, load_styles
from training.corpora import sha256_of
from training.data import SEED
from training.data.everyday import EVAL_REQUESTS
from training.generation import GREEDY, adapter_request, open_engine, reply_all, seeded
from training.report import write_report
from training.scoring import score_styles, style_classifier, training_row

log = logging.getLogger(__name__)

EVAL_CACHE = "evaluation.json"  # per style, beside style.toml


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell eval-styles``."""
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--styles", nargs="*", help="style ids to (re)generate (default: every style with an adapter)")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("docs/STYLES.md"))


def run(args: argparse.Namespace) -> int:
    """CLI entry: generate the chosen styles' replies (cached), then score every evaluated style."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    registry = load_styles(args.styles_dir)
    ids = args.styles or sorted(s for s, style in registry.styles.items() if style.adapter_path)
    chosen = [registry.get(s) for s in ids]
    if missing := [s.id for s in chosen if s.adapter_path is None]:
        raise SystemExit(f"styles without a trained adapter: {', '.join(missing)}")
    model_dir = resolve_model(args.model)
    for style in chosen:
        style_replies(style, model_dir, args.threads)
    evaluated = [s for s in registry.styles.values() if s.adapter_path and cached_replies(s) is not None]
    classifier, cv = style_classifier(sorted(registry.styles))
    results = score_styles(evaluated, {s.id: cached_replies(s) for s in evaluated}, classifier)
    write_report(results, cv, args.out, [training_row(s) for s in evaluated])
    return 0


def cache_key(style) -> str:
    """Adapter weights, system prompt, defaults and requests: any change regenerates."""
    spec = json.dumps([style.system_prompt, style.defaults, EVAL_REQUESTS], sort_keys=True).encode()
    adapter = sha256_of(style.adapter_path / "adapter_model.safetensors")
    return f"{adapter} spec={hashlib.sha256(spec).hexdigest()[:16]}"


def cached_replies(style) -> dict[str, list[str]] | None:
    """The style's cached replies by run, or None when missing or stale."""
    path = style.adapter_path.parent / EVAL_CACHE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("replies") if data.get("key") == cache_key(style) else None


def style_replies(style, model_dir: Path, threads: int | None = None) -> dict[str, list[str]]:
    """Generate (or reuse) the three runs' replies to the everyday requests and cache them."""
    if (replies := cached_replies(style)) is not None:
        return replies
    llm, count = open_engine(model_dir, threads), len(EVAL_REQUESTS)
    defaults = style.sampling_params()
    greedy = replace(GREEDY, max_tokens=defaults.max_tokens)
    runs = {"adapter_defaults": (seeded(defaults, count, SEED), adapter_request(style)),
            "adapter_greedy": ([greedy] * count, adapter_request(style)),
            "base_defaults": (seeded(defaults, count, SEED), None)}
    replies = {name: reply_all(llm, style.system_prompt, EVAL_REQUESTS, params, lora)
               for name, (params, lora) in runs.items()}
    payload = {"key": cache_key(style), "requests": list(EVAL_REQUESTS), "replies": replies}
    (style.adapter_path.parent / EVAL_CACHE).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n",
                                                         encoding="utf-8")
    log.info("%s: %d replies generated", style.id, sum(map(len, replies.values())))
    return replies
