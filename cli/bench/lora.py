"""``inkwell bench-lora``: the multi-LoRA tax, PEFT's mixed batch, many adapters, memory, load stalls.

One run, one process, ``--threads`` torch threads, for each dtype:
(a) N requests over K distinct rank-r adapters on all 7 projections vs the same requests on the bare
base (enable_lora=False), best of ``--repeats`` interleaved runs -> the multi-LoRA tax; (b) PEFT
``generate(adapter_names=...)`` on the same requests; then (c) 500 registered adapters on 16 slots under
zipf picks vs one adapter for everyone, (d) resident memory growth for 50 registered adapters vs their
size, and (e) the longest step while an adapter is registered between steps of a streaming batch.
Throughput = generated tokens / wall time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from cli.bench.run_peft import load_peft, peft_generate
from engine.lora.loader import TARGETS, BaseShapes
from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.lora.request import LoRARequest
from engine.model_store import DEFAULT_MODEL, resolve_model
from engine.sampling_params import SamplingParams

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma-separated dtypes")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--adapters", type=int, default=10, help="distinct adapters in the mixed batch")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--many", type=int, default=500, help="registered adapters for the zipf run (0: skip)")
    parser.add_argument("--slots", type=int, default=16, help="device slots for the zipf run")
    parser.add_argument("--memory-adapters", type=int, default=50, help="adapters for the memory check (0: skip)")
    parser.add_argument("--skip-peft", action="store_true", help="skip the PEFT comparison")
    parser.add_argument("--repeats", type=int, default=3,
                        help="bare/LoRA runs, interleaved so both see the same machine load; best of each")


def write_adapter(folder: Path, shapes: BaseShapes, rank: int, seed: int) -> Path:
    """A random PEFT LoRA folder on all 7 projections (B small, so the text stays fluent)."""
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for layer in range(shapes.num_layers):
        for target, (in_f, out_f) in shapes.modules.items():
            parent = "self_attn" if target in TARGETS[:4] else "mlp"
            key = f"base_model.model.model.layers.{layer}.{parent}.{target}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, in_f, generator=gen) / in_f**0.5
            tensors[f"{key}.lora_B.weight"] = torch.randn(out_f, rank, generator=gen) * 0.02
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "adapter_model.safetensors")
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": list(TARGETS),
              "bias": "none", "task_type": "CAUSAL_LM"}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def _engine(model_dir: Path, dtype: str, threads: int, **lora: object) -> LLMEngine:
    return LLMEngine(EngineConfig(model=str(model_dir), dtype=dtype, device="cpu", max_num_seqs=32,
                                  num_threads=threads, **lora))


def _prompts(count: int, length: int, vocab: int) -> list[list[int]]:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(100, min(vocab, 20000), (count, length), generator=gen).tolist()


def run_engine(engine: LLMEngine, prompts: list[list[int]], loras: list[LoRARequest | None],
               max_tokens: int, between_steps: list | None = None, at_step: int = 2) -> tuple[float, list[float]]:
    """Generated tokens/s for the batch, and each step's seconds.

    ``between_steps`` callables run one per step, from before step ``at_step`` (counted from 0) on.
    """
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    for i, (prompt, lora) in enumerate(zip(prompts, loras)):
        engine.add_request(f"b{time.monotonic_ns()}-{i}", prompt, params, lora)
    pending, steps = list(between_steps or []), []
    start = time.perf_counter()
    while engine.has_unfinished_requests():
        if pending and len(steps) >= at_step:
            pending.pop(0)()
        t0 = time.perf_counter()
        engine.step()
        steps.append(time.perf_counter() - t0)
    return len(prompts) * max_tokens / (time.perf_counter() - start), steps


@dataclass(frozen=True)
class StallFigures:
    """An adapter registered while a batch decodes: its registration time, the median and the longest step."""

    register_s: float
    median_step_s: float
    longest_step_s: float


def load_stall(engine: LLMEngine, prompts: list[list[int]], loras: list[LoRARequest | None], max_tokens: int,
               folder: Path) -> StallFigures:
    """Run the batch and register ``folder`` as a new adapter halfway through its decode steps."""
    added: list[float] = []

    def add_late() -> None:
        start = time.perf_counter()
        engine.add_lora(LoRARequest("late", str(folder)))
        added.append(time.perf_counter() - start)

    at_step = max_tokens // 2
    _, steps = run_engine(engine, prompts, loras, max_tokens, [add_late], at_step)
    return StallFigures(added[0], statistics.median(steps), max(steps[at_step:]))


def peft_tokens_per_s(model_dir: Path, dtype: str, folders: list[Path], prompts: list[list[int]],
                      names: list[str], max_tokens: int) -> float:
    """PEFT's mixed-adapter ``generate`` on the same requests (one static batch, greedy, no EOS stop)."""
    model = load_peft(model_dir, dtype, folders)
    start = time.perf_counter()
    peft_generate(model, prompts, names, max_tokens)
    return len(prompts) * max_tokens / (time.perf_counter() - start)


def rss_bytes() -> int:
    """Resident set size of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def bench_dtype(args: argparse.Namespace, model_dir: Path, dtype: str, folders: list[Path]) -> None:
    """(a) tax vs the bare base and (b) PEFT speed-up, plus (e) the load stall, for one dtype."""
    requests = [LoRARequest(f"a{i}", str(f)) for i, f in enumerate(folders)]
    mixed = [requests[i % len(requests)] for i in range(args.requests)]
    bare = _engine(model_dir, dtype, args.threads)
    prompts = _prompts(args.requests, args.prompt_len, bare.vocab_size)
    lora = _engine(model_dir, dtype, args.threads, enable_lora=True, max_loras=16, max_lora_rank=args.rank)
    run_engine(bare, prompts[:2], [None, None], 4)  # warm-up
    run_engine(lora, prompts[:2], mixed[:2], 4)
    base_tps, lora_tps = 0.0, 0.0
    for _ in range(max(args.repeats, 1)):
        base_tps = max(base_tps, run_engine(bare, prompts, [None] * args.requests, args.max_tokens)[0])
        lora_tps = max(lora_tps, run_engine(lora, prompts, mixed, args.max_tokens)[0])
    del bare
    stall = load_stall(lora, prompts, mixed, args.max_tokens, folders[0])
    print(f"{dtype}: bare base {base_tps:.1f} tok/s | {args.adapters} adapters mixed {lora_tps:.1f} tok/s "
          f"| multi-LoRA tax {100 * (1 - lora_tps / base_tps):.1f} %")
    print(f"{dtype}: median step {1000 * stall.median_step_s:.1f} ms; adapter registered mid-stream "
          f"in {1000 * stall.register_s:.1f} ms, longest step after it {1000 * stall.longest_step_s:.1f} ms")
    if not args.skip_peft:
        names = [r.name if r else "__base__" for r in mixed]
        peft_tps = peft_tokens_per_s(model_dir, dtype, folders, prompts, names, args.max_tokens)
        print(f"{dtype}: PEFT mixed-batch generate {peft_tps:.1f} tok/s | Inkwell is {lora_tps / peft_tps:.1f}x")


@dataclass(frozen=True)
class ManyFigures:
    """Many registered adapters over few slots: registration time, zipf-picked and one-adapter tokens/s."""

    registered_s: float
    zipf_tps: float
    single_tps: float


def many_adapters(engine: LLMEngine, folders: list[Path], root: Path, many: int, prompts: list[list[int]],
                  max_tokens: int) -> ManyFigures:
    """Register ``many`` adapters (links to ``folders`` under ``root``), then zipf picks vs one adapter.

    One-adapter and zipf batches alternate (two of each), each on prompts of its own so that no batch finds
    another's keys in the prefix cache; the one-adapter figure is the faster of its two, the zipf figure the
    slower of its two (different picks).
    """
    links = []
    for i in range(many):  # distinct names and folders; weights shared on disk through links
        folder = root / f"many{i}"
        folder.mkdir(exist_ok=True)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            if not (folder / name).exists():
                os.symlink(folders[i % len(folders)] / name, folder / name)
        links.append(LoRARequest(f"m{i}", str(folder)))
    start = time.perf_counter()
    for request in links:
        engine.add_lora(request)
    registered = time.perf_counter() - start
    gen = torch.Generator().manual_seed(1)
    weights = 1.0 / torch.arange(1, many + 1, dtype=torch.float64)
    picks = torch.multinomial(weights, len(prompts) * 4, replacement=True, generator=gen).tolist()
    vocab, single, zipf = engine.vocab_size, [], []
    run_engine(engine, unshared(prompts, 0, vocab)[:2], [links[0]] * 2, 4)
    for k in range(2):
        single.append(run_engine(engine, unshared(prompts, 1 + 2 * k, vocab), [links[0]] * len(prompts), max_tokens)[0])
        zipf.append(run_engine(engine, unshared(prompts, 2 + 2 * k, vocab), [links[p] for p in picks[k::4]],
                               max_tokens)[0])
    return ManyFigures(registered, min(zipf), max(single))


@dataclass(frozen=True)
class InterleavedTax:
    """Bare and LoRA engines of one process, their batches alternated: the best tok/s of each."""

    bare_tps: float
    lora_tps: float


def interleaved_tax(bare: LLMEngine, lora: LLMEngine, prompts: list[list[int]], loras: list[LoRARequest | None],
                    max_tokens: int, rounds: int = 3, batch: int = 100) -> InterleavedTax:
    """The tax measured in one process: ``rounds`` bare and LoRA batches alternated, each on prompts of its
    own (numbered from ``batch``), so both see the same moments of a noisy host; best tok/s of each."""
    vocab, bare_tps, lora_tps = bare.vocab_size, [], []
    for k in range(rounds):
        bare_tps.append(run_engine(bare, unshared(prompts, batch + 2 * k, vocab), [None] * len(prompts), max_tokens)[0])
        lora_tps.append(run_engine(lora, unshared(prompts, batch + 2 * k + 1, vocab), loras, max_tokens)[0])
    return InterleavedTax(max(bare_tps), max(lora_tps))


def unshared(prompts: list[list[int]], batch: int, vocab: int) -> list[list[int]]:
    """``prompts`` with their first two tokens set to a mark of their own per batch and prompt (the number
    ``batch * len + i`` in base ``vocab``), so batches share no prefix-cache blocks."""
    marks = [batch * len(prompts) + i for i in range(len(prompts))]
    return [[mark % vocab, mark // vocab % vocab, *prompt[2:]] for mark, prompt in zip(marks, prompts)]


def bench_many(args: argparse.Namespace, model_dir: Path, dtype: str, folders: list[Path], root: Path) -> None:
    """(c) ``--many`` registered adapters on ``--slots`` slots, zipf picks, vs one adapter for everyone."""
    engine = _engine(model_dir, dtype, args.threads, enable_lora=True, max_loras=args.slots,
                     max_lora_rank=args.rank)
    prompts = _prompts(args.requests, args.prompt_len, engine.vocab_size)
    figures = many_adapters(engine, folders, root, args.many, prompts, args.max_tokens)
    print(f"{dtype}: {args.many} adapters registered in {figures.registered_s:.1f} s; {args.slots} slots, zipf "
          f"picks {figures.zipf_tps:.1f} tok/s vs single adapter {figures.single_tps:.1f} tok/s = "
          f"{100 * figures.zipf_tps / figures.single_tps:.0f} %")


def bench_memory(args: argparse.Namespace, model_dir: Path, dtype: str, folders: list[Path], root: Path) -> None:
    """(d) resident memory growth when ``--memory-adapters`` adapters are registered (host cache)."""
    engine = _engine(model_dir, dtype, args.threads, enable_lora=True, max_loras=16, max_lora_rank=args.rank)
    before = rss_bytes()
    for i in range(args.memory_adapters):
        folder = write_adapter(root / f"mem{i}", BaseShapes.from_hf_config(_hf_config(model_dir)), args.rank, 1000 + i)
        engine.add_lora(LoRARequest(f"mem{i}", str(folder)))
    growth = rss_bytes() - before
    size = engine.lora.stats()["host_bytes"]
    print(f"{dtype}: {args.memory_adapters} adapters = {size / 2**20:.1f} MiB; resident memory grew "
          f"{growth / 2**20:.1f} MiB = {growth / size:.2f}x their size (slots preallocated: "
          f"{engine.lora.stats()['device_bytes'] / 2**20:.1f} MiB)")


def _hf_config(model_dir: Path) -> object:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir)


def run(args: argparse.Namespace) -> int:
    """Print every figure; see the module docstring."""
    torch.set_num_threads(args.threads)
    model_dir = resolve_model(args.model)
    shapes = BaseShapes.from_hf_config(_hf_config(model_dir))
    dtypes = args.dtype.split(",")
    print(f"model {model_dir.name}; {args.requests} requests x ({args.prompt_len} prompt + {args.max_tokens} new "
          f"tokens); rank-{args.rank} adapters on all 7 projections; {args.threads} thread(s)")
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-lora-") as tmp:
        root = Path(tmp)
        folders = [write_adapter(root / f"a{i}", shapes, args.rank, i) for i in range(args.adapters)]
        for dtype in dtypes:
            bench_dtype(args, model_dir, dtype, folders)
        if args.many:
            bench_many(args, model_dir, dtypes[0], folders, root)
        if args.memory_adapters:
            bench_memory(args, model_dir, dtypes[0], folders, root)
    return 0
