"""The CPU dispatch of ``kernels.add_lora`` (segment loop) against the reference ops."""

from __future__ import annotations

import pytest
import torch
from lora_cases import BATCH_SHAPES, make_problem, naive_delta, tolerance
from test_lora_reference import run_reference

from kernels import add_lora
from kernels.metadata import LoRAMetadata


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_cpu_path_matches_reference(shape: str, decode: bool, dtype: torch.dtype) -> None:
    p = make_problem(dtype=dtype, rank=8, num_adapters=5, shape=shape, decode=decode, num_seqs=9)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y, run_reference(p, decode), **tolerance(dtype))


def test_cpu_path_single_slice_against_naive() -> None:
    p = make_problem(dtype=torch.float32, rank=16, num_adapters=8, shape="zipf", decode=False, slices=(40,))
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    torch.testing.assert_close(y.double(), p.y.double() + naive_delta(p), atol=1e-4, rtol=1e-5)


def test_no_adapter_step_leaves_y_alone() -> None:
    p = make_problem(dtype=torch.float32, rank=4, num_adapters=2, shape="identical", decode=True)
    p.meta.fill([1] * 6, [-1] * 6, [1.0] * 6)
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    assert torch.equal(y, p.y)


def test_token_count_mismatch_is_named() -> None:
    p = make_problem(dtype=torch.float32, rank=4, num_adapters=2, shape="identical", decode=True)
    with pytest.raises(ValueError, match="describes 6 tokens but the layer got 5"):
        add_lora(p.y[:5], p.x[:5], p.a, p.b, LoRAMetadata.build([1] * 6, [0] * 6, [1.0] * 6), p.offsets)
