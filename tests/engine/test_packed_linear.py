"""Prepacked CPU linears == nn.Linear for every row count, and keep the names LoRA relies on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.packed_linear import PackedLinear, pack_linears
from kernels import block_gemm, pair_gemm


@pytest.mark.parametrize("rows", [1, 2, 16, 128, 300])
@pytest.mark.parametrize("bias", [False, True])
def test_packed_equals_plain_linear(rows: int, bias: bool) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(48, 80, bias=bias))
    model[0].output_sizes = (40, 40)
    x = torch.randn(rows, 48)
    expected = model(x)
    assert pack_linears(model) == 1
    assert isinstance(model[0], PackedLinear) and model[0].output_sizes == (40, 40)
    torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)


def test_float16_is_not_packed() -> None:
    model = nn.Sequential(nn.Linear(8, 8).to(torch.float16))
    assert pack_linears(model) == 0 and type(model[0]) is nn.Linear


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="oneDNN has no bf16 on this CPU")
@pytest.mark.parametrize("rows", [2, 16, 300])
def test_bf16_packed_equals_plain_linear(rows: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 96).to(torch.bfloat16))
    x = torch.randn(rows, 64).to(torch.bfloat16)
    expected = model(x).float()
    assert pack_linears(model) == 1 and isinstance(model[0], PackedLinear)
    torch.testing.assert_close(model(x).float(), expected, atol=2e-2, rtol=2e-2)  # bf16 output rounding


@pytest.mark.skipif(not pair_gemm.available(), reason="no pair kernel on this CPU")
@pytest.mark.parametrize("rows", [1, 2, 16, 300])
def test_bias_free_bf16_takes_the_pair_kernel(rows: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 96, bias=False).to(torch.bfloat16))
    x = torch.randn(rows, 64).to(torch.bfloat16)
    expected = model(x).float()
    assert pack_linears(model) == 1 and model[0].own is not None and model[0].packed is None
    torch.testing.assert_close(model(x).float(), expected, atol=2e-2, rtol=2e-2)  # bf16 output rounding


@pytest.mark.skipif(not block_gemm.available(), reason="no block kernel on this CPU")
@pytest.mark.parametrize("rows", [1, 2, 16, 300])
def test_bias_free_fp32_takes_the_block_kernel(rows: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 96, bias=False))
    x = torch.randn(rows, 64)
    expected = model(x)
    assert pack_linears(model) == 1 and model[0].own is not None and model[0].packed is None
    torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("rows", "packed_path"), [(1, False), (2, True), (512, True)])
def test_row_count_picks_the_path(rows: int, packed_path: bool) -> None:
    """oneDNN's path (a linear with a bias: Inkwell's own layouts take none) from two rows up."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(48, 80))
    pack_linears(model)
    assert model[0].own is None
    x = torch.randn(rows, 48)
    plain, bias = model[0].weight.detach().clone(), model[0].bias.detach()
    with torch.no_grad():
        model[0].weight.zero_()  # the packed copy keeps the old values: only that path still sees them
    torch.testing.assert_close(model(x), (x @ plain.t() if packed_path else torch.zeros(rows, 80)) + bias)
