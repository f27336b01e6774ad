"""The greedy pick kernel (kernels/cpu/sampling.cpp) against torch.argmax, exactly."""

from __future__ import annotations

import pytest
import torch

from engine.sampler import _argmax, _sampleable
from kernels.cpu_ext import cpu_ops

needs_kernels = pytest.mark.skipif(cpu_ops() is None, reason="the CPU kernels could not be built")
INF, NAN = float("inf"), float("nan")


def _rows(vocab: int) -> torch.Tensor:
    """Random rows plus the hard cases: ties, -0.0 against 0.0, -Inf, +Inf, NaN, all banned."""
    gen = torch.Generator().manual_seed(vocab)
    logits = torch.randn(12, vocab, generator=gen)
    last = vocab - 1
    logits[1, last] = logits[1, 0] = 50.0  # a tie: the first index wins
    logits[2] = 0.0
    logits[2, 0] = -0.0
    logits[3, :] = -INF
    logits[4, last] = INF
    logits[5, last // 2] = NAN
    logits[6, 0], logits[6, last] = INF, NAN
    logits[7, : vocab // 2] = -INF
    return logits


@needs_kernels
@pytest.mark.parametrize("vocab", [1, 15, 16, 17, 100, 49152])
def test_argmax_kernel_equals_torch(vocab: int) -> None:
    logits = _rows(vocab)
    assert torch.equal(_argmax(logits), logits.argmax(dim=-1))


@needs_kernels
def test_argmax_kernel_on_a_row_slice_and_threads() -> None:
    """Rows taken out of a bigger batch (a non-contiguous pick) and two threads give torch's answer."""
    logits = _rows(4099)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        picked = logits[[0, 2, 5, 9]]
        assert torch.equal(_argmax(picked), picked.argmax(dim=-1))
        assert torch.equal(_argmax(logits[:, 1:]), logits[:, 1:].argmax(dim=-1))
    finally:
        torch.set_num_threads(threads)


@needs_kernels
def test_argmax_kernel_rejects_wrong_inputs() -> None:
    with pytest.raises(RuntimeError, match="float32"):
        cpu_ops().argmax_rows(torch.empty(2, dtype=torch.long), torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"\[B\]"):
        cpu_ops().argmax_rows(torch.empty(3, dtype=torch.long), torch.zeros(2, 5))


@pytest.mark.parametrize("vocab", [1, 17, 49152])
def test_sampleable_is_the_no_nan_no_inf_some_token_left_rule(vocab: int) -> None:
    logits = _rows(vocab)
    rule = ~(logits.isnan() | logits.isposinf()).any(dim=1) & logits.isfinite().any(dim=1)
    assert torch.equal(_sampleable(logits), rule)
    assert _sampleable(logits).tolist()[3:7] == [False, False, False, False]
