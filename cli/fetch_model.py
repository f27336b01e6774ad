"""``inkwell fetch-model``: prepare a model directory ahead of time."""

from __future__ import annotations

import argparse

from engine.model_store import DEFAULT_MODEL, resolve_model


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--models-dir", default=None, help="cache folder (default $INKWELL_MODELS_DIR or ~/.cache/inkwell/models)")


def run(args: argparse.Namespace) -> int:
    """Resolve (fetching and converting if needed) and print the model directory."""
    path = resolve_model(args.model, args.models_dir)
    print(path)
    return 0
