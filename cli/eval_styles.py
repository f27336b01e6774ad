"""``inkwell eval-styles``: generate the styles' replies (cached per style) through the engine, score every
evaluated style and write docs/STYLES.md (``training.evaluate``, ``training.scoring``, ``training.report``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from engine.model_store import DEFAULT_MODEL, resolve_model
from styles.manifest import Style
from styles.registry import STYLES_DIR, load_styles
from training.evaluate import cached_replies, style_replies
from training.report import write_report
from training.scoring import score_styles, style_classifier, training_row
from training.strength import load_record

TRIED = "tried.md"  # per style, beside style.toml: what was tried against a missed target


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell eval-styles``."""
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--styles", nargs="*", help="style ids to (re)generate (default: every style with an adapter)")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("docs/STYLES.md"))


def run(args: argparse.Namespace) -> int:
    """Generate the chosen styles' replies (cached), then score every evaluated style."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    registry = load_styles(args.styles_dir)
    try:
        chosen = registry.trained(args.styles)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    model_dir = resolve_model(args.model)
    for style in chosen:
        style_replies(style, model_dir, args.threads)
    evaluated = [s for s in registry.styles.values() if s.adapter_path and cached_replies(s) is not None]
    classifier, cv = style_classifier(sorted(registry.styles))
    results = score_styles(evaluated, {s.id: cached_replies(s) for s in evaluated}, classifier)
    strengths = {s.id: record for s in evaluated if (record := load_record(s.adapter_path.parent)) is not None}
    write_report(results, cv, args.out, [training_row(s) for s in evaluated], tried_notes(evaluated), strengths)
    return 0


def tried_notes(styles: Sequence[Style]) -> dict[str, str]:
    """Style id -> the text of its ``tried.md``, for the styles that have one."""
    notes = {}
    for style in styles:
        if (path := style.adapter_path.parent / TRIED).is_file():
            notes[style.id] = path.read_text(encoding="utf-8").strip()
    return notes
