"""Triton SGMV/BGMV against the reference in the Triton CPU interpreter (small sizes: it is ~400x slower).

Run by ``test_lora_triton_interpret.py`` in a subprocess with ``TRITON_INTERPRET=1``: the flag must be
set before triton itself is imported, so it cannot be set inside the main test process without leaking.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch
from lora_cases import (BATCH_SHAPES, Problem, make_blend_problem, make_problem, naive_blend_delta, run_ops,
                        tolerance)
from test_lora_reference import run_reference

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("run through test_lora_triton_interpret.py (needs TRITON_INTERPRET=1 before triton loads)",
                allow_module_level=True)

from kernels import bgmv, sgmv  # noqa: E402  (after the interpreter check)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# (dtype, rank, adapters, batch shape): every dtype x rank once, adapters 1..8 and all shapes rotated
CASES = [(d, r, [1, 3, 8][i % 3], BATCH_SHAPES[(i + j) % 5])
         for i, d in enumerate(DTYPES) for j, r in enumerate([4, 8, 16, 32])]


def run_triton(p: Problem, decode: bool) -> torch.Tensor:
    return run_ops(p, decode, bgmv, sgmv)


@pytest.mark.parametrize("dtype, rank, adapters, shape", CASES)
@pytest.mark.parametrize("decode", [True, False], ids=["bgmv", "sgmv"])
def test_triton_matches_reference(dtype: str, rank: int, adapters: int, shape: str, decode: bool) -> None:
    p = make_problem(dtype=DTYPES[dtype], rank=rank, num_adapters=adapters, shape=shape, decode=decode,
                     seed=rank + adapters)
    torch.testing.assert_close(run_triton(p, decode), run_reference(p, decode), **tolerance(DTYPES[dtype]))


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_sgmv_every_batch_shape_fp32(shape: str) -> None:
    p = make_problem(dtype=torch.float32, rank=8, num_adapters=4, shape=shape, decode=False, num_seqs=8)
    torch.testing.assert_close(run_triton(p, False), run_reference(p, False), **tolerance(torch.float32))


@pytest.mark.parametrize("decode", [True, False], ids=["bgmv", "sgmv"])
def test_blend_passes_add_every_component(monkeypatch: pytest.MonkeyPatch, decode: bool) -> None:
    """A style blend on CUDA: the first adapters' pass, then one pass per further component."""
    monkeypatch.setattr("kernels.metadata.cpu_ops", lambda: None)  # passes, as on a GPU
    bp = make_blend_problem(decode=decode, seed=4)
    p = bp.problem
    assert len(p.meta.blend_passes) == 2
    y = p.y
    for meta in (p.meta, *p.meta.blend_passes):
        y = run_triton(replace(p, y=y, meta=meta), decode)
    torch.testing.assert_close(y.double(), p.y.double() + naive_blend_delta(bp), atol=1e-5, rtol=1e-5)


def test_host_wrapper_names_bad_arguments() -> None:
    p = make_problem(dtype=torch.float32, rank=4, num_adapters=2, shape="identical", decode=True)
    buf = torch.zeros(p.x.shape[0], p.a.shape[1])
    with pytest.raises(ValueError, match="lora_a dtype"):
        bgmv.bgmv_shrink(p.x, p.a.half(), buf, p.meta.token_slots, p.meta.token_scales)
    with pytest.raises(ValueError, match="float32"):
        bgmv.bgmv_shrink(p.x, p.a, buf.half(), p.meta.token_slots, p.meta.token_scales)
    with pytest.raises(ValueError, match="slice_offsets end"):
        bgmv.bgmv_expand(buf, p.b, p.y, p.meta.token_slots, (0, 4, 8))
