"""``inkwell bench-kernel``: the fused CPU multi-LoRA kernel alone, beside the torch path and other builds.

One step, ``SEQSxLEN/ADAPTERS`` (16x1/4: 16 decode rows over 4 adapters; 16x64/10: a 1,024-token prefill
over 10), runs through the four fused projections (qkv, o, gate_up, down) of every layer of a
SmolLM2-135M-shaped model, rank-r adapters in a 16-slot stack. Per dtype and thread count it prints
microseconds per projection call, best of ``--repeats`` sweeps over the layers with the systems interleaved
(so both see the same machine load): the engine's CPU path (``kernels.add_lora``: the compiled kernel, GEMMs
for runs of ``LONG_RUN`` tokens), the torch path it falls back to without the kernel (a slot grid for decode,
else a segment loop), and each cached build named by ``--builds`` (an earlier version of the kernel, found by
its key under the kernels cache). Each system's largest difference from the engine's result is printed too.

Last, the engine's path once more on the first layer's stacks called for every layer (the same calls, the
adapter rows staying in cache), the megabytes of adapter rows a step reads (each distinct slot's A and B of
every projection), and the rate at which the difference between the two times moves those bytes: near the
host's stream bandwidth, the kernel's decode steps are bound by reading the adapters, not by its arithmetic.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

import kernels
from cli.bench.host import cpu_line, load_average
from kernels.cpu_ext import build_key, cpu_ops, fast_bf16_flag, load_build
from kernels.metadata import LoRAMetadata, SlotGrid, slot_grid
from kernels.torch_path import grid_lora, segment_lora

SLOTS = 16
System = Callable[[torch.Tensor, torch.Tensor, "Projection", "Step"], None]


@dataclass(frozen=True)
class Case:
    """One step: ``seqs`` sequences of ``length`` tokens, sequence i on adapter slot ``i % adapters``."""

    seqs: int
    length: int
    adapters: int

    def __str__(self) -> str:
        return f"{self.seqs}x{self.length}/{self.adapters}"

    def step(self) -> Step:
        """The step's LoRA metadata as the engine fills it, and the torch path's grid."""
        meta = LoRAMetadata.build([self.length] * self.seqs, [i % self.adapters for i in range(self.seqs)],
                                  [1.0] * self.seqs)
        return Step(meta, slot_grid(meta.token_slots.tolist(), meta.token_scales.tolist()))


@dataclass(frozen=True)
class Step:
    """A case's metadata and the slot grid the torch path uses (``None``: its segment loop), both built
    once, as the engine builds them once a step rather than per projection."""

    meta: LoRAMetadata
    grid: SlotGrid | None


def parse_case(text: str) -> Case:
    """``SEQSxLEN/ADAPTERS`` -> a :class:`Case` (argparse type: bad text is a usage error)."""
    try:
        shape, _, adapters = text.partition("/")
        seqs, _, length = shape.partition("x")
        case = Case(int(seqs), int(length), int(adapters))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SEQSxLEN/ADAPTERS, e.g. 16x1/4") from None
    if min(case.seqs, case.length, case.adapters) < 1 or case.adapters > SLOTS:
        raise argparse.ArgumentTypeError(f"{text!r}: counts must be >= 1 and adapters <= {SLOTS}")
    return case


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--cases", type=lambda s: [parse_case(c) for c in s.split(",")],
                        default=[parse_case(c) for c in ("16x1/1", "16x1/4", "16x1/10", "64x1/10", "16x64/4",
                                                         "16x64/10")],
                        help="comma-separated steps SEQSxLEN/ADAPTERS (default: decode and prefill steps)")
    parser.add_argument("--dtypes", default=None, help="comma-separated (default float32, plus bfloat16 "
                                                       "where the CPU has fast bf16)")
    parser.add_argument("--threads", default="2,1", help="comma-separated torch thread counts")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=576)
    parser.add_argument("--kv", type=int, default=192, help="k and v projection width")
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--builds", default="", help="comma-separated keys of cached kernel builds to time too")


@dataclass(frozen=True)
class Projection:
    """One fused projection's input, output and adapter stacks: x [T, H_in], y [T, N], A [S, n*R, H_in],
    B [S, N, R] (a transposed view of contiguous [S, R, N], the pool's CPU layout)."""

    x: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    offsets: tuple[int, ...]


def projections(args: argparse.Namespace, tokens: int, dtype: torch.dtype) -> list[Projection]:
    """The step's fused projections over every layer, random weights (seeded)."""
    gen = torch.Generator().manual_seed(0)
    h, kv, inter, r = args.hidden, args.kv, args.intermediate, args.rank
    shapes = [(h, (h, kv, kv)), (h, (h,)), (h, (inter, inter)), (inter, (h,))]
    out = []
    for _ in range(args.layers):
        for fan_in, slices in shapes:
            width = sum(slices)
            a = torch.randn(SLOTS, len(slices) * r, fan_in, generator=gen) / fan_in**0.5
            bt = torch.randn(SLOTS, r, width, generator=gen) * 0.02
            offsets = tuple(sum(slices[:i]) for i in range(len(slices) + 1))
            out.append(Projection(torch.randn(tokens, fan_in, generator=gen).to(dtype),
                                  torch.zeros(tokens, width, dtype=dtype), a.to(dtype),
                                  bt.to(dtype).transpose(1, 2), offsets))
    return out


def cached(layers: list[Projection], count: int) -> list[Projection]:
    """The first of ``count`` layers' projections called in every layer's place: the same calls, the stacks
    in cache."""
    per_layer = len(layers) // count
    return layers[:per_layer] * count


def adapter_bytes(case: Case, layers: list[Projection]) -> int:
    """Bytes of adapter rows a step reads: every distinct slot's A and B rows of every projection."""
    return min(case.adapters, case.seqs) * sum(p.a[0].nbytes + p.b[0].nbytes for p in layers)


def torch_path(y: torch.Tensor, x: torch.Tensor, p: Projection, step: Step) -> None:
    """What the engine runs without the compiled kernels: a slot grid where it fits, else a segment loop."""
    if step.grid is not None:
        grid_lora(y, x, p.a, p.b, step.grid, p.offsets)
    else:
        segment_lora(y, x, p.a, p.b, step.meta.segments, p.offsets)


def systems(builds: str) -> dict[str, System]:
    """The engine's path, the torch path, and each named cached build."""
    found: dict[str, System] = {
        "kernel": lambda y, x, p, step: kernels.add_lora(y, x, p.a, p.b, step.meta, p.offsets),
        "torch path": torch_path,
    }
    for key in filter(None, builds.split(",")):
        ops = load_build(key)
        found[f"build {key}"] = lambda y, x, p, step, ops=ops: kernels.add_lora(y, x, p.a, p.b, step.meta,
                                                                                 p.offsets, ops)
    return found


def time_case(step: Step, layers: list[Projection], chosen: dict[str, System], repeats: int) -> dict[str, float]:
    """Best seconds per projection call of each system, the systems interleaved within every repeat."""
    best = dict.fromkeys(chosen, float("inf"))
    for _ in range(repeats):
        for name, system in chosen.items():
            start = time.perf_counter()
            for p in layers:
                system(p.y, p.x, p, step)
            best[name] = min(best[name], (time.perf_counter() - start) / len(layers))
    return best


def differences(step: Step, layer: Projection, chosen: dict[str, System]) -> dict[str, float]:
    """Each system's largest difference from the engine's path on one projection, relative to its size."""
    results = {}
    for name, system in chosen.items():
        y = torch.zeros_like(layer.y)
        system(y, layer.x, layer, step)
        results[name] = y.double()
    scale = results["kernel"].abs().max().item() or 1.0
    return {name: (y - results["kernel"]).abs().max().item() / scale for name, y in results.items()}


def report(args: argparse.Namespace, dtype: torch.dtype, chosen: dict[str, System]) -> None:
    """One table: a row per case, microseconds per call per system, ratios to the engine's path."""
    names = list(chosen)
    print(f"\n{str(dtype).removeprefix('torch.')}, {torch.get_num_threads()} threads (us per projection call)")
    print("| step | " + " | ".join(names) + " | " + " | ".join(f"{n} / kernel" for n in names[1:])
          + " | largest relative difference | kernel, stacks in cache | adapter MB a step | GB/s of the difference |")
    print("|---" * (2 * len(names) + 4) + "|")
    for case in args.cases:
        layers = projections(args, case.seqs * case.length, dtype)
        step = case.step()
        best = time_case(step, layers, chosen, args.repeats)
        diff = differences(step, layers[0], chosen)
        times = " | ".join(f"{1e6 * best[n]:.1f}" for n in names)
        ratios = " | ".join(f"{best[n] / best['kernel']:.2f}x" for n in names[1:])
        worst = max(diff.values())
        hot = time_case(step, cached(layers, args.layers), {"kernel": chosen["kernel"]}, args.repeats)["kernel"]
        moved = adapter_bytes(case, layers)
        extra = (best["kernel"] - hot) * len(layers)  # seconds a step beyond the cached stacks
        rate = f"{moved / extra / 1e9:.3g}" if extra > 0 else "-"  # 3 significant digits: never a bare 0.0
        print(f"| {case} | {times} | {ratios} | {worst:.1e} | {1e6 * hot:.1f} | {moved / 1e6:.2f} | {rate} |",
              flush=True)


def run(args: argparse.Namespace) -> int:
    """Print the host, then a table per dtype and thread count; 1 if the compiled kernels are unavailable."""
    if cpu_ops() is None:
        print("the compiled CPU kernels are not available on this host (see the warning above): nothing to time")
        return 1
    chosen = systems(args.builds)
    dtypes = args.dtypes.split(",") if args.dtypes else ["float32"] + (["bfloat16"] if fast_bf16_flag() else [])
    print(f"CPU: {cpu_line()}; torch {torch.__version__}; this build {build_key()}")
    print(f"rank {args.rank}, {args.layers} layers x 4 fused projections, {SLOTS} slots; best of {args.repeats}")
    print(f"load average before: {load_average()}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for dtype in dtypes:
            report(args, getattr(torch, dtype), chosen)
    print(f"\nload average after: {load_average()}")
    return 0
