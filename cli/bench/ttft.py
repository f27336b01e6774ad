"""``inkwell bench-ttft``: time to first token of a lone prompt, alone and while other streams decode.

The engine runs its step loop on its own thread (``AsyncLLMEngine``, as the server runs it). A lone
P-token prompt (fresh random token ids each trial, so no prefix cache helps) is submitted at a random
moment, and its time to first token is measured from ``submit`` to its first output: alone on an
idle engine, then while ``--streams`` long requests decode. Under load the lone prompt waits for the
step in flight, then prefills in one step beside the decode rows (chunked prefill), so the figure
includes what a real arrival pays.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import torch

from cli.bench.host import cpu_line, load_average
from engine.async_engine import AsyncLLMEngine
from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.model_store import DEFAULT_MODEL, resolve_model
from engine.sampling_params import SamplingParams

_FIRST = SamplingParams(temperature=0.0, max_tokens=1, ignore_eos=True)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--dtype", default="auto", help="weights dtype (auto: bf16 on fast-bf16 CPUs)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--streams", type=int, default=15, help="streams decoding while the lone prompt arrives")
    parser.add_argument("--prompt-len", type=int, default=64, help="tokens of every prompt")
    parser.add_argument("--trials", type=int, default=10, help="lone prompts timed per condition (median)")


def run(args: argparse.Namespace) -> int:
    """Print the lone prompt's time to first token alone and under load, and their ratio."""
    torch.set_num_threads(args.threads)
    model_dir = resolve_model(args.model)
    config = EngineConfig(model=str(model_dir), dtype=args.dtype, device="cpu", num_threads=args.threads,
                          max_num_seqs=max(16, args.streams + 1))
    print(f"CPU: {cpu_line()}\nload average before: {load_average()}")
    print(f"model {model_dir.name}, {config.resolved_dtype()}, {args.threads} thread(s); lone "
          f"{args.prompt_len}-token prompt, {args.trials} trials, {args.streams} decoding streams under load")
    alone, loaded, step_ms = asyncio.run(_measure(LLMEngine(config), args))
    print(f"time to first token alone:      median {alone * 1e3:7.1f} ms")
    print(f"time to first token under load: median {loaded * 1e3:7.1f} ms "
          f"(decode step of {args.streams} streams: median {step_ms:.1f} ms)")
    print(f"under load / alone: {loaded / alone:.2f}x\nload average after: {load_average()}")
    return 0


async def _measure(engine: LLMEngine, args: argparse.Namespace) -> tuple[float, float, float]:
    """(median TTFT alone, median TTFT under load, median decode-step ms under load)."""
    front = AsyncLLMEngine(engine, max_pending=args.streams + 2)
    front.start()
    rng = random.Random(0)

    def prompt() -> list[int]:
        return [rng.randrange(engine.tokenizer.vocab_size) for _ in range(args.prompt_len)]

    try:
        await _ttft(front, prompt())  # warm-up
        alone = [await _ttft(front, prompt(), rng.uniform(0, 0.05)) for _ in range(args.trials)]
        load = _Load(front, [prompt() for _ in range(args.streams)])
        await load.started()
        loaded = [await _ttft(front, prompt(), rng.uniform(0, 0.05)) for _ in range(args.trials)]
        step_ms = load.step_ms()
        await load.stop()
    finally:
        front.shutdown()
    return statistics.median(alone), statistics.median(loaded), step_ms


async def _ttft(front: AsyncLLMEngine, prompt: list[int], delay: float = 0.0) -> float:
    """Seconds from submitting ``prompt`` (after ``delay``, a random arrival) to its first token."""
    await asyncio.sleep(delay)
    start = time.perf_counter()
    async for output in front.generate(prompt, _FIRST):
        if output.outputs[0].token_ids:
            return time.perf_counter() - start
    raise RuntimeError("the lone request produced no token")


class _Load:
    """Long greedy streams decoding in the background; records the gap between their tokens."""

    def __init__(self, front: AsyncLLMEngine, prompts: list[list[int]]) -> None:
        params = SamplingParams(temperature=0.0, max_tokens=front.max_model_len - len(prompts[0]) - 1,
                                ignore_eos=True)
        self._gaps: list[float] = []
        self._decoding = asyncio.Event()
        self._tasks = [asyncio.create_task(self._stream(front, p, params, i == 0)) for i, p in enumerate(prompts)]

    async def _stream(self, front: AsyncLLMEngine, prompt: list[int], params: SamplingParams, timed: bool) -> None:
        last = None
        async for output in front.generate(prompt, params):
            now = time.perf_counter()
            if timed and last is not None:
                self._gaps.append(now - last)
            last = now
            if len(output.outputs[0].token_ids) >= 3:
                self._decoding.set()

    async def started(self) -> None:
        """Wait until the streams decode (their prompts prefilled) and a few steps ran."""
        await self._decoding.wait()
        await asyncio.sleep(0.5)

    def step_ms(self) -> float:
        """The median gap between the first stream's tokens, in ms."""
        return statistics.median(self._gaps) * 1e3

    async def stop(self) -> None:
        """Cancel the streams (leaving ``generate`` aborts them)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
