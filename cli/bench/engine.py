"""``inkwell bench``: the engine against transformers' ``generate`` on the same requests, same dtype.

Workloads: N requests of P-token prompts, each generating exactly M tokens (EOS ignored), greedy;
(a) all arriving at once, (b) arriving as a Poisson process. transformers cannot add requests to a
running batch, so its best honest schedule is used: whenever it is idle, it batches every request
that has arrived. Throughput = generated tokens / time from first arrival to last completion.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.model_store import DEFAULT_MODEL, resolve_model
from engine.sampling_params import SamplingParams

SEED_TEXT = (
    "The lighthouse keeper counted the ships that passed each night, writing their names in a ledger "
    "that nobody else would ever read. Rain fell on the copper roof; the lamp turned; gulls argued over "
    "scraps of bread. In the city, engineers debated how to schedule a thousand writers on one machine, "
    "sharing memory in small blocks and batching every step so that no one waited too long for words. "
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--dtype", default="float32", help="comma-separated: float32,bfloat16")
    parser.add_argument("--requests", type=int, default=16, help="number of requests")
    parser.add_argument("--prompt-len", type=int, default=64, help="prompt tokens per request")
    parser.add_argument("--max-tokens", type=int, default=64, help="generated tokens per request")
    parser.add_argument("--rate", type=float, default=4.0, help="Poisson arrival rate (requests/s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    """Run every (dtype, workload) pair for both systems and print tokens/s and the ratio."""
    torch.set_num_threads(args.threads)
    model_dir = resolve_model(args.model)
    rng = random.Random(0)
    workloads = {"all-at-once": [0.0] * args.requests,
                 f"poisson {args.rate:g}/s": _poisson(args.requests, args.rate, rng)}
    print(f"model {model_dir.name}, {args.requests} requests x ({args.prompt_len} prompt + "
          f"{args.max_tokens} new tokens), {args.threads} thread(s), median of {args.repeats}")
    for dtype in args.dtype.split(","):
        engine = LLMEngine(EngineConfig(model=str(model_dir), dtype=dtype, device="cpu", seed=0,
                                        max_num_seqs=max(16, args.requests), num_threads=args.threads))
        prompts = _prompts(engine, args.requests, args.prompt_len)
        hf = _load_hf(model_dir, dtype)
        for name, arrivals in workloads.items():
            runs = [(_run_engine(engine, prompts, arrivals, args.max_tokens),
                     _run_hf(hf, prompts, arrivals, args.max_tokens)) for _ in range(args.repeats)]
            ours, theirs = (statistics.median(column) for column in zip(*runs))  # interleaved: fair under load
            tokens = args.requests * args.max_tokens
            print(f"{dtype:9s} {name:16s} engine {tokens / ours:7.1f} tok/s | transformers "
                  f"{tokens / theirs:7.1f} tok/s | ratio {theirs / ours:5.2f}x", flush=True)
    return 0


def _poisson(n: int, rate: float, rng: random.Random) -> list[float]:
    """Arrival offsets (s) of ``n`` requests: the first at 0, then exponential gaps of mean 1/rate."""
    times, now = [0.0], 0.0
    for _ in range(n - 1):
        now += rng.expovariate(rate)
        times.append(now)
    return times


def _prompts(engine: LLMEngine, n: int, length: int) -> list[list[int]]:
    """``n`` distinct windows of ``length`` tokens over a repeated English text."""
    ids = engine.tokenizer.encode(SEED_TEXT * (1 + (n * 5 + length) // 50))
    return [ids[i * 5:i * 5 + length] for i in range(n)]


def _run_engine(engine: LLMEngine, prompts: list[list[int]], arrivals: list[float], max_tokens: int) -> float:
    """Seconds for the engine to finish every request, adding each one when it arrives."""
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    start, next_req = time.perf_counter(), 0
    while next_req < len(prompts) or engine.has_unfinished_requests():
        now = time.perf_counter() - start
        while next_req < len(prompts) and arrivals[next_req] <= now:
            engine.add_request(f"bench-{next_req}-{start}", prompts[next_req], params)
            next_req += 1
        if engine.has_unfinished_requests():
            engine.step()
        else:
            time.sleep(arrivals[next_req] - now)
    return time.perf_counter() - start


def _load_hf(model_dir: object, dtype: str) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).eval()


def _run_hf(model: torch.nn.Module, prompts: list[list[int]], arrivals: list[float], max_tokens: int) -> float:
    """Seconds for transformers to finish every request, batching all arrived ones whenever idle."""
    start, next_req = time.perf_counter(), 0
    while next_req < len(prompts):
        now = time.perf_counter() - start
        if arrivals[next_req] > now:
            time.sleep(arrivals[next_req] - now)
            continue
        batch_end = next_req
        while batch_end < len(prompts) and arrivals[batch_end] <= now:
            batch_end += 1
        batch = torch.tensor(prompts[next_req:batch_end])  # [b, P]: equal lengths, no padding
        with torch.inference_mode():
            model.generate(batch, attention_mask=torch.ones_like(batch), do_sample=False,
                           max_new_tokens=max_tokens, min_new_tokens=max_tokens, pad_token_id=0)
        next_req = batch_end
    return time.perf_counter() - start
