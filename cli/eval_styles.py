"""``inkwell eval-styles``: evaluate the styles' adapters and write docs/STYLES.md (``training.evaluate``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.model_store import DEFAULT_MODEL, resolve_model
from styles.registry import STYLES_DIR, load_styles
from training.evaluate import evaluate, training_row
from training.report import write_report


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell eval-styles``."""
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--styles", nargs="*", help="style ids (default: every style with an adapter)")
    parser.add_argument("--ppl-pairs", type=int, default=16, help="held-out pairs per style for perplexity")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("docs/STYLES.md"))


def run(args: argparse.Namespace) -> int:
    """Evaluate the chosen styles and write the report."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    registry = load_styles(args.styles_dir)
    chosen = args.styles or sorted(s for s, style in registry.styles.items() if style.adapter_path)
    styles = [registry.get(s) for s in chosen]
    if missing := [s.id for s in styles if s.adapter_path is None]:
        raise SystemExit(f"styles without a trained adapter: {', '.join(missing)}")
    results, cv = evaluate(styles, resolve_model(args.model), args.ppl_pairs, args.max_new_tokens,
                           sorted(registry.styles))
    command = f"inkwell eval-styles --ppl-pairs {args.ppl_pairs} --max-new-tokens {args.max_new_tokens}"
    write_report(results, cv, args.out, command, [training_row(s) for s in styles])
    return 0
