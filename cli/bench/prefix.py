"""``inkwell bench-prefix``: a writer's session of Continues on a growing piece, with and without the prefix cache.

Each Continue sends what the app's Continue sends: the style's system prompt, the writer's prompt, and the
whole piece so far as an open assistant message (``continue_final_message``); the reply is appended to the
piece. Both engines (prefix caching on and off, the same style adapter) get the same requests, one at a
time, interleaved; greedy decoding, so they write the same piece. Time to first token = from
``add_request`` to the step that returns the request's first token.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cli.bench.engine import SEED_TEXT
from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.lora.request import LoRARequest
from engine.model_store import DEFAULT_MODEL, resolve_model
from engine.sampling_params import SamplingParams
from styles.registry import load_styles

WRITER_PROMPT = "Write a long story about a lighthouse keeper and the city's engineers."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--style", default="poetry", help="packaged style whose adapter writes ('none': base)")
    parser.add_argument("--continues", type=int, default=10, help="Continues in the session")
    parser.add_argument("--piece-tokens", type=int, default=1500, help="tokens of the piece at the start")
    parser.add_argument("--max-tokens", type=int, default=32, help="new tokens per Continue")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    """Run the session on both engines and print each Continue's time to first token and the speed-up."""
    torch.set_num_threads(args.threads)
    model_dir = resolve_model(args.model)
    engines = {flag: _engine(str(model_dir), flag, args.threads) for flag in (False, True)}
    system, lora = _style(args.style)
    piece = _piece(engines[False], args.piece_tokens)
    print(f"model {model_dir.name}, style {args.style}, {args.continues} Continues x {args.max_tokens} new "
          f"tokens on a {args.piece_tokens}-token piece, float32, {args.threads} thread(s)")
    print("continue  prompt  cached  ttft off (s)  ttft on (s)  speed-up  same reply")
    ratios = []
    for i in range(1, args.continues + 1):
        prompt = engines[False].tokenizer.apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": WRITER_PROMPT},
             {"role": "assistant", "content": piece}], add_generation_prompt=False, continue_final_message=True)
        (off, reply, _), (on, cached_reply, cached) = (
            _continue(engines[flag], f"c{i}", prompt, args.max_tokens, lora) for flag in (False, True))
        ratios.append(off / on)
        prompt_tokens = len(engines[False].tokenizer.encode(prompt))
        print(f"{i:8d}  {prompt_tokens:6d}  {cached:6d}  {off:12.3f}  {on:11.3f}  {off / on:7.1f}x  "
              f"{'yes' if reply == cached_reply else 'NO'}", flush=True)
        piece += reply
    later = ratios[2:] or ratios
    print(f"speed-up from the 3rd Continue on: median {statistics.median(later):.1f}x, min {min(later):.1f}x")
    return 0


def _engine(model: str, caching: bool, threads: int) -> LLMEngine:
    return LLMEngine(EngineConfig(model=model, dtype="float32", device="cpu", enable_lora=True,
                                  enable_prefix_caching=caching, num_threads=threads))


def _style(style_id: str) -> tuple[str, LoRARequest | None]:
    """The style's system prompt and adapter request (a plain writer's system prompt for 'none')."""
    if style_id == "none":
        return "You are a helpful writing assistant.", None
    style = load_styles().get(style_id)
    return style.system_prompt, LoRARequest(style.id, str(style.adapter_path))


def _piece(engine: LLMEngine, num_tokens: int) -> str:
    """English text of about ``num_tokens`` tokens (the seed paragraph repeated)."""
    ids = engine.tokenizer.encode(SEED_TEXT * (1 + num_tokens // 60))
    return engine.tokenizer.decode(ids[:num_tokens])


def _continue(engine: LLMEngine, request_id: str, prompt: str, max_tokens: int,
              lora: LoRARequest | None) -> tuple[float, str, int]:
    """Run one Continue alone: (seconds to its first token, the reply, prompt tokens found cached)."""
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    start, first, last = time.perf_counter(), None, None
    engine.add_request(request_id, prompt, params, lora)
    while engine.has_unfinished_requests():
        for out in engine.step():
            if first is None and out.outputs[0].token_ids:
                first = time.perf_counter() - start
            last = out
    return first, last.outputs[0].text, last.num_cached_tokens
