"""``inkwell tune-strength``: choose each style's default strength on the tuning requests and write it into
the style's manifest (``training.strength``); then re-run ``inkwell eval-styles`` to score it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.lora.request import MAX_LORA_SCALE
from engine.model_store import DEFAULT_MODEL, resolve_model
from styles.manifest import MANIFEST_NAME, set_strength
from styles.registry import STYLES_DIR, load_styles
from training.scoring import style_classifier
from training.strength import GRID, SAMPLES, choose, save_record, tune_strengths


def _grid(text: str) -> tuple[float, ...]:
    try:
        grid = tuple(sorted({float(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid takes comma-separated scales, got {text!r}") from None
    if not grid or not all(0 <= scale <= MAX_LORA_SCALE for scale in grid):
        raise argparse.ArgumentTypeError(f"--grid scales must lie in [0, {MAX_LORA_SCALE:g}], got {text!r}")
    return grid


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell tune-strength``."""
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--styles", nargs="*", help="style ids to tune (default: every style with an adapter)")
    parser.add_argument("--grid", type=_grid, default=GRID, help="comma-separated scales to try (default "
                        f"{','.join(map(str, GRID))})")
    parser.add_argument("--samples", type=int, default=SAMPLES, choices=range(1, 9), metavar="N",
                        help=f"replies per tuning request and scale, each with its own seed (default {SAMPLES})")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: torch's)")


def run(args: argparse.Namespace) -> int:
    """Tune every style with an adapter; print each scale's figures and write the chosen default."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    registry = load_styles(args.styles_dir)
    try:
        styles = registry.trained(args.styles)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if not styles:
        raise SystemExit(f"no style under {args.styles_dir} has a trained adapter")
    classifier, _ = style_classifier(sorted(registry.styles))
    trials = tune_strengths(styles, classifier, resolve_model(args.model), args.grid, args.threads, args.samples)
    for style in styles:
        chosen = choose(trials[style.id])
        for t in trials[style.id]:
            print(f"{style.id:12s} scale {t.scale:<5g} own {t.score.own:4.0%}  marker "
                  f"{'-' if t.score.marker is None else f'{t.score.marker:.0%}':>4}  max 4-gram {t.score.max_4gram}  "
                  f"distinct-2 {t.score.distinct2:.2f}{'' if t.keeps_targets() else '  (breaks a target)'}")
        print(f"{style.id:12s} -> default strength {chosen:g}")
        save_record(style.adapter_path.parent, trials[style.id], chosen, args.samples)
        set_strength(style.adapter_path.parent / MANIFEST_NAME, chosen)
    return 0
