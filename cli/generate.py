"""``inkwell generate``: a one-shot generation demo on the engine (chat template applied)."""

from __future__ import annotations

import argparse
import sys

from engine.model_store import DEFAULT_MODEL


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("prompt", nargs="?", default="Write a short poem about GPUs", help="user message")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")


def run(args: argparse.Namespace) -> int:
    """Stream the answer to stdout as it is generated."""
    from engine.config import EngineConfig
    from engine.llm_engine import LLMEngine
    from engine.sampling_params import SamplingParams

    engine = LLMEngine(EngineConfig(model=args.model, dtype=args.dtype, num_threads=args.threads))
    prompt = engine.tokenizer.apply_chat_template([{"role": "user", "content": args.prompt}])
    params = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    engine.add_request("generate", prompt, params)
    while engine.has_unfinished_requests():
        for out in engine.step():
            sys.stdout.write(out.outputs[0].delta_text)
            sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
