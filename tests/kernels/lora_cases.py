"""Random multi-LoRA problems for the kernel tests: stacks, slices and the five batch shapes."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch

from kernels.metadata import LoRAMetadata

BATCH_SHAPES = ("identical", "distinct", "uniform", "zipf", "skewed")


@dataclass
class Problem:
    """One fused layer's LoRA inputs: x [T, H], a [S, n*R, H], b [S, N, R], y [T, N] and the step."""

    x: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    y: torch.Tensor
    offsets: tuple[int, ...]
    meta: LoRAMetadata


def batch_slots(shape: str, num_seqs: int, num_adapters: int, gen: torch.Generator) -> list[int]:
    """Per-sequence slots for one batch shape; uniform/zipf/skewed also leave some rows without adapter."""
    if shape == "identical":
        return [0] * num_seqs
    if shape == "distinct":
        return [i % num_adapters for i in range(num_seqs)]
    if shape == "zipf":
        weights = 1.0 / torch.arange(1, num_adapters + 2, dtype=torch.float64)
    else:
        weights = torch.ones(num_adapters + 1, dtype=torch.float64)
    picks = torch.multinomial(weights, num_seqs, replacement=True, generator=gen)
    return [int(p) - 1 for p in picks]  # pick 0 = no adapter


def batch_lengths(shape: str, num_seqs: int, decode: bool, gen: torch.Generator) -> list[int]:
    """Tokens per sequence: 1 in decode; random 1..6 in prefill, one long outlier when skewed."""
    if decode:
        return [1] * num_seqs
    lengths = torch.randint(1, 7, (num_seqs,), generator=gen).tolist()
    if shape == "skewed":
        lengths[0] = 37
    return lengths


def make_problem(*, dtype: torch.dtype, rank: int, num_adapters: int, shape: str, decode: bool,
                 num_seqs: int = 6, hidden: int = 24, slices: tuple[int, ...] = (16, 8, 8), seed: int = 0) -> Problem:
    """A random problem; scales vary per sequence, B is scaled so y's magnitude stays near 1."""
    gen = torch.Generator().manual_seed(seed)
    slots = batch_slots(shape, num_seqs, num_adapters, gen)
    lengths = batch_lengths(shape, num_seqs, decode, gen)
    scales = (torch.rand(num_seqs, generator=gen) * 2).tolist()
    offsets = tuple(int(v) for v in torch.tensor((0, *slices)).cumsum(0))
    total = sum(lengths)

    def rand(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=gen).to(dtype)

    return Problem(
        x=rand(total, hidden), a=rand(num_adapters, len(slices) * rank, hidden) * 0.3,
        b=rand(num_adapters, offsets[-1], rank) * 0.3, y=rand(total, offsets[-1]), offsets=offsets,
        meta=LoRAMetadata.build(lengths, slots, scales),
    )


def run_ops(p: Problem, decode: bool, bgmv: ModuleType, sgmv: ModuleType) -> torch.Tensor:
    """y after shrink + expand by the ``bgmv`` (decode rows) or ``sgmv`` (segments) ops of a module.

    Pass ``kernels.reference`` for both to run the specification, the Triton modules to test them.
    """
    y = p.y.clone()
    buf = torch.zeros(p.x.shape[0], p.a.shape[1])
    m = p.meta
    if decode:
        bgmv.bgmv_shrink(p.x, p.a, buf, m.token_slots, m.token_scales)
        bgmv.bgmv_expand(buf, p.b, y, m.token_slots, p.offsets)
    else:
        segs = (m.seg_starts, m.seg_lens, m.seg_slots)
        sgmv.sgmv_shrink(p.x, p.a, buf, *segs, m.token_scales, max_seg_len=m.max_seg_len)
        sgmv.sgmv_expand(buf, p.b, y, *segs, p.offsets, max_seg_len=m.max_seg_len)
    return y


def naive_delta(p: Problem) -> torch.Tensor:
    """fp64 per-adapter, per-token Python loop: the independent oracle of the delta added to y."""
    rank = p.b.shape[2]
    delta = torch.zeros(p.y.shape, dtype=torch.float64)
    slots, scales = p.meta.token_slots.tolist(), p.meta.token_scales.tolist()
    for adapter in sorted(set(slots) - {-1}):
        for t in (i for i, s in enumerate(slots) if s == adapter):
            for i, (lo, hi) in enumerate(zip(p.offsets[:-1], p.offsets[1:])):
                a_i = p.a[adapter, i * rank:(i + 1) * rank].double()  # [R, H]
                b_i = p.b[adapter, lo:hi].double()  # [hi - lo, R]
                delta[t, lo:hi] += scales[t] * (b_i @ (a_i @ p.x[t].double()))
    return delta


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    """assert_close tolerances for y in ``dtype`` (one rounding of y dominates in half precision)."""
    return {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float16: dict(atol=4e-3, rtol=4e-3),
            torch.bfloat16: dict(atol=3e-2, rtol=2e-2)}[dtype]


@dataclass
class BlendProblem:
    """A step mixing blended, single-adapter and base sequences; ``parts[i]``: ``(slot, scale)`` per adapter."""

    problem: Problem
    lengths: list[int]
    parts: list[list[tuple[int, float]]]


# per sequence: the (slot, scale) of each adapter it uses; blends of 2 and 3, singles and base rows
BLEND_PARTS = [[(0, 0.7), (2, 0.3)], [(1, 1.0)], [], [(2, 0.5), (0, 1.5), (3, 0.25)], [(0, 0.7), (2, 0.3)],
               [(3, 2.0)], [(1, 0.4), (3, 0.9)]]


def make_blend_problem(*, dtype: torch.dtype = torch.float32, rank: int = 8, decode: bool, seed: int = 0,
                       hidden: int = 24, slices: tuple[int, ...] = (16, 8, 8)) -> BlendProblem:
    """Random stacks of 4 adapters and the metadata of ``BLEND_PARTS`` (built on the current CPU path)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = batch_lengths("skewed", len(BLEND_PARTS), decode, gen)
    offsets = tuple(int(v) for v in torch.tensor((0, *slices)).cumsum(0))

    def rand(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=gen).to(dtype)

    first = [parts[0] if parts else (-1, 1.0) for parts in BLEND_PARTS]
    meta = LoRAMetadata.build(lengths, [s for s, _ in first], [c for _, c in first],
                              extra=[parts[1:] for parts in BLEND_PARTS])
    problem = Problem(x=rand(sum(lengths), hidden), a=rand(4, len(slices) * rank, hidden) * 0.3,
                      b=rand(4, offsets[-1], rank) * 0.3, y=rand(sum(lengths), offsets[-1]), offsets=offsets, meta=meta)
    return BlendProblem(problem, lengths, [list(parts) for parts in BLEND_PARTS])


def naive_blend_delta(bp: BlendProblem) -> torch.Tensor:
    """fp64: each token's sum over its adapters of ``scale * B A x`` (the blend's definition)."""
    p, rank = bp.problem, bp.problem.b.shape[2]
    delta = torch.zeros(p.y.shape, dtype=torch.float64)
    start = 0
    for n, parts in zip(bp.lengths, bp.parts):
        for slot, scale in parts:
            for i, (lo, hi) in enumerate(zip(p.offsets[:-1], p.offsets[1:])):
                a_i = p.a[slot, i * rank:(i + 1) * rank].double()  # [R, H]
                b_i = p.b[slot, lo:hi].double()  # [hi - lo, R]
                delta[start:start + n, lo:hi] += scale * (p.x[start:start + n].double() @ a_i.T @ b_i.T)
        start += n
    return delta
