"""``inkwell train-style ID``: fit one style's LoRA adapter on the embedded base (``training.train``)."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from pathlib import Path

from engine.model_store import DEFAULT_MODEL
from styles.registry import STYLES_DIR
from training.train import TrainConfig, train_style


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell train-style``."""
    defaults = TrainConfig()
    parser.add_argument("style_id", help="the style to train, e.g. poetry")
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR, help="folder holding <id>/style.toml")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="base model name or HF folder")
    for name in ("steps", "batch_size", "rank", "upper_layers", "max_len", "seed", "warmup", "epochs"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: default)")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=defaults.bf16,
                        help="bf16 autocast of the forward pass (faster on CPUs with AMX or avx512_bf16)")


def run(args: argparse.Namespace) -> int:
    """Train and save one adapter."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    fields = {k: getattr(args, k) for k in asdict(TrainConfig())}
    train_style(args.style_id, TrainConfig(**fields), args.styles_dir, args.model)
    return 0
