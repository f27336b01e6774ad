"""Style blends in the LoRA ops: a token using several adapters gets the sum of their scaled deltas.

Checked on every CPU path of ``kernels.add_lora`` (the fused kernel's slot groups with one entry per token
and adapter; the torch grid / segment paths with one pass per component) against an fp64 loop, and
against the sum of single-adapter reference runs; the Triton passes are in ``triton_cases.py``.
"""

from __future__ import annotations

import pytest
import torch
from lora_cases import BlendProblem, make_blend_problem, naive_blend_delta, run_ops, tolerance

from kernels import add_lora
from kernels import reference as ref
from kernels.cpu_ext import cpu_ops
from kernels.metadata import LoRAMetadata

needs_kernels = pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")


@pytest.fixture
def torch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build metadata as on a host without the compiled kernels (grid / segments, blend passes)."""
    monkeypatch.setattr("kernels.metadata.cpu_ops", lambda: None)


def blended(bp: BlendProblem) -> torch.Tensor:
    p = bp.problem
    y = p.y.clone()
    add_lora(y, p.x, p.a, p.b, p.meta, p.offsets)
    return y


@needs_kernels
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_fused_kernel_adds_every_component(decode: bool, dtype: torch.dtype) -> None:
    bp = make_blend_problem(dtype=dtype, decode=decode, seed=1)
    groups = bp.problem.meta.groups
    assert groups is not None and not bp.problem.meta.blend_passes
    assert groups.tokens.numel() == sum(n * len(parts) for n, parts in zip(bp.lengths, bp.parts))
    expected = (bp.problem.y.double() + naive_blend_delta(bp)).to(dtype)
    torch.testing.assert_close(blended(bp), expected, **tolerance(dtype))


@pytest.mark.parametrize("path", ["grid", "segments"])
@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
def test_torch_paths_run_one_pass_per_component(torch_path: None, monkeypatch: pytest.MonkeyPatch, decode: bool,
                                               path: str) -> None:
    monkeypatch.setattr("kernels.metadata.MAX_GRID_WASTE", 1000 if path == "grid" else 0)
    bp = make_blend_problem(decode=decode, seed=2)
    meta = bp.problem.meta
    assert meta.groups is None and len(meta.blend_passes) == 2
    assert all((m.grid is not None) == (path == "grid") for m in (meta, *meta.blend_passes))
    second = [parts[1][0] if len(parts) > 1 else -1 for parts in bp.parts]
    third = [parts[2][0] if len(parts) > 2 else -1 for parts in bp.parts]
    assert [s.slot for s in meta.blend_passes[0].segments] == [s for s in second if s >= 0]
    assert [s.slot for s in meta.blend_passes[1].segments] == [s for s in third if s >= 0]
    expected = bp.problem.y.double() + naive_blend_delta(bp)
    torch.testing.assert_close(blended(bp).double(), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("decode", [True, False], ids=["decode", "prefill"])
def test_blend_delta_is_the_sum_of_single_adapter_deltas(decode: bool) -> None:
    """The layer's blended delta equals the sum of each adapter's own delta at its weight (reference ops)."""
    bp = make_blend_problem(decode=decode, seed=3)
    p = bp.problem
    total = torch.zeros_like(p.y)
    for k in range(3):  # the k-th adapter of every sequence alone, at its weight
        parts = [parts[k] if len(parts) > k else (-1, 1.0) for parts in bp.parts]
        single = LoRAMetadata.build(bp.lengths, [s for s, _ in parts], [c for _, c in parts])
        run = run_ops(type(p)(p.x, p.a, p.b, p.y.clone(), p.offsets, single), decode, ref, ref)
        total += run - p.y
    torch.testing.assert_close(blended(bp) - p.y, total, atol=1e-5, rtol=1e-5)
    assert total[:bp.lengths[0]].abs().amax() > 0.1  # the blended first row really moves


def test_metadata_refuses_bad_blends() -> None:
    with pytest.raises(ValueError, match="distinct"):
        LoRAMetadata.build([2, 1], [0, 1], [1.0, 1.0], extra=[[(0, 0.5)], []])
    with pytest.raises(ValueError, match="distinct and >= 0"):
        LoRAMetadata.build([2], [-1], [1.0], extra=[[(1, 0.5)]])
    meta = LoRAMetadata.allocate(8, 4, max_components=2)
    with pytest.raises(ValueError, match="preallocated for 2"):
        meta.fill([1], [0], [1.0], extra=[[(1, 0.5), (2, 0.5)]])
    with pytest.raises(ValueError, match="extra component lists"):
        meta.fill([1, 1], [0, 1], [1.0, 1.0], extra=[[]])


def test_a_step_without_blends_uses_no_pass(torch_path: None) -> None:
    meta = LoRAMetadata.allocate(8, 4, max_components=3)
    meta.fill([1, 1], [0, 1], [1.0, 0.5], extra=[[(2, 0.5)], []])
    assert len(meta.blend_passes) == 1
    meta.fill([1, 1], [0, 1], [1.0, 0.5])  # the next step: no blend left
    assert meta.blend_passes == []
