"""Check the Triton SGMV/BGMV kernels against the torch reference on CUDA at Mistral-7B sizes.

For every fused projection (qkv, o, gate_up, down), rank and row count it compares Triton with
``kernels.reference`` and reports the achieved memory bandwidth (bytes of x, y and the adapters the
batch touches, over the kernel time). CUDA only; runs in a few minutes on one GPU.

    python scripts/gpu_kernel_check.py [--ranks 8 16 32 64] [--rows 1 16 64] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import reference as ref  # noqa: E402
from kernels.metadata import LoRAMetadata  # noqa: E402

logger = logging.getLogger("gpu_kernel_check")
HIDDEN, INTER, KV = 4096, 14336, 1024
# fused projection -> (in_features, output slices)
LAYERS = {"qkv": (HIDDEN, (HIDDEN, KV, KV)), "o": (HIDDEN, (HIDDEN,)),
          "gate_up": (HIDDEN, (INTER, INTER)), "down": (INTER, (HIDDEN,))}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16, 64], help="tokens per call")
    parser.add_argument("--adapters", type=int, default=8, help="resident adapter slots")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--iters", type=int, default=20, help="timed launches per case")
    return parser.parse_args(argv)


def make_case(in_f: int, slices: tuple[int, ...], rank: int, rows: int, adapters: int, dtype: torch.dtype,
              decode: bool) -> dict:
    """Random stacks and a step: prefill = 4 segments of rows/4 tokens, decode = one token per row."""
    gen = torch.Generator().manual_seed(rows * 131 + rank)
    n = sum(slices)
    seqs = rows if decode else max(1, min(4, rows))
    lengths = [rows // seqs + (i < rows % seqs) for i in range(seqs)]
    slots = (torch.randint(-1, adapters, (seqs,), generator=gen)).tolist()
    offsets = tuple(int(v) for v in torch.tensor((0, *slices)).cumsum(0))
    dev = {"device": "cuda", "dtype": dtype}
    return dict(
        x=torch.randn(rows, in_f, **dev), y=torch.randn(rows, n, **dev),
        a=torch.randn(adapters, len(slices) * rank, in_f, **dev) * 0.05,
        b=torch.randn(adapters, n, rank, **dev) * 0.05, offsets=offsets,
        meta=LoRAMetadata.build(lengths, slots, [1.0] * seqs, device="cuda"),
    )


def run_triton(case: dict, decode: bool) -> torch.Tensor:
    from kernels import bgmv, sgmv

    y, m = case["y"].clone(), case["meta"]
    buf = torch.zeros(y.shape[0], case["a"].shape[1], device="cuda")
    if decode:
        bgmv.bgmv_shrink(case["x"], case["a"], buf, m.token_slots, m.token_scales)
        bgmv.bgmv_expand(buf, case["b"], y, m.token_slots, case["offsets"])
    else:
        segs = (m.seg_starts, m.seg_lens, m.seg_slots)
        sgmv.sgmv_shrink(case["x"], case["a"], buf, *segs, m.token_scales, max_seg_len=m.max_seg_len)
        sgmv.sgmv_expand(buf, case["b"], y, *segs, case["offsets"], max_seg_len=m.max_seg_len)
    return y


def run_reference(case: dict, decode: bool) -> torch.Tensor:
    y, m = case["y"].clone(), case["meta"]
    buf = torch.zeros(y.shape[0], case["a"].shape[1], device="cuda")
    ref.bgmv_shrink(case["x"], case["a"], buf, m.token_slots, m.token_scales)
    ref.bgmv_expand(buf, case["b"], y, m.token_slots, case["offsets"])
    return y


def touched_bytes(case: dict) -> int:
    """Bytes a perfect kernel moves: x, y read and written, and each used adapter's A and B once."""
    used = set(case["meta"].token_slots.tolist()) - {-1}
    per_adapter = case["a"][0].nbytes + case["b"][0].nbytes
    return case["x"].nbytes + 2 * case["y"].nbytes + len(used) * per_adapter


def time_ms(case: dict, decode: bool, iters: int) -> float:
    run_triton(case, decode)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(iters):
        run_triton(case, decode)
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def check_case(name: str, rank: int, rows: int, decode: bool, args: argparse.Namespace) -> bool:
    in_f, slices = LAYERS[name]
    dtype = getattr(torch, args.dtype)
    case = make_case(in_f, slices, rank, rows, args.adapters, dtype, decode)
    got, want = run_triton(case, decode).float(), run_reference(case, decode).float()
    err = (got - want).abs().max().item()
    ok = err <= 2e-2 * max(1.0, want.abs().max().item())
    ms = time_ms(case, decode, args.iters)
    gbps = touched_bytes(case) / ms / 1e6
    logger.info("%-7s %-4s rank %2d rows %2d: max err %.2e %s  %.3f ms  %7.1f GB/s",
                name, "bgmv" if decode else "sgmv", rank, rows, err, "ok" if ok else "FAIL", ms, gbps)
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not torch.cuda.is_available():
        logger.error("no CUDA device: this check needs a GPU (the CPU tests run the kernels in the interpreter)")
        return 2
    results = [check_case(name, rank, rows, decode, args)
               for name in LAYERS for rank in args.ranks for rows in args.rows for decode in (True, False)]
    logger.info("%d/%d cases match the reference", sum(results), len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
