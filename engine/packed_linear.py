"""A CPU speed-up applied after loading: linears whose forward uses prepacked weights (oneDNN's or Inkwell's own).

From two rows up a prepacked weight runs the matmul faster than ``F.linear``'s path on the plain
``[out, in]`` layout (measured at 1 thread, AVX2: ~10-40 % for 16-row decode batches, ~10 % for
512-row prefill chunks; on AVX-512 with AMX, bf16 packed weights are 1.2-1.7x ``F.linear`` in bf16);
for one row the plain path is faster, so it is kept there. float32 always packs; bfloat16 packs where
oneDNN supports bf16 on this CPU (``torch.ops.mkldnn._is_mkldnn_bf16_supported``). On a CPU with
AVX512-BF16 but no AMX, a bias-free bf16 linear takes Inkwell's pair-layout kernel instead, for every row
count (``kernels.pair_gemm``: 1.25-1.57x oneDNN from 2 to 512 rows on a Zen 5 host, 1.02-1.14x on a Zen 4
one, 3.5x ``F.linear`` at one; PERFORMANCE.md), and
on AVX-512 a bias-free fp32 linear takes its block-layout kernel (``kernels.block_gemm``: 1.2-1.3x oneDNN on
16-row decode batches, a tie on 512-row chunks). These two are Inkwell's own layouts (``own``). The
module stays an ``nn.Linear`` (same ``weight``/``bias``), so wrappers such as LoRA can treat it as the base.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.huge_pages import arena
from kernels.block_gemm import block_linear, block_weight
from kernels.pair_gemm import pair_linear, pair_weight

MIN_PACKED_ROWS = 2  # row counts from this up take the packed path


class PackedLinear(nn.Linear):
    """``nn.Linear`` plus a packed copy of its weight: one of Inkwell's own layouts (``own``: the pair layout
    of ``kernels.pair_gemm`` for bf16 on AVX512-BF16, the block layout of ``kernels.block_gemm`` for fp32 on
    AVX-512; every row count), else oneDNN's (``packed``, from ``MIN_PACKED_ROWS`` rows up)."""

    packed: torch.Tensor | None = None
    own: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.own is not None and x.dim() == 2:
            return own_linear(x, self.own)  # [M, out]
        if self.packed is None or x.dim() != 2 or x.shape[0] < MIN_PACKED_ROWS:
            return super().forward(x)
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")  # [M, out]


def own_layout(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight`` in Inkwell's own layout for its dtype (pair for bf16, block for fp32), or ``None`` where this
    host's kernels do not take it."""
    return pair_weight(weight) if weight.dtype == torch.bfloat16 else block_weight(weight)


def own_linear(x: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """``x [M, K] @ W^T`` on the kernel of ``own``'s layout (``own = own_layout(W)``)."""
    return pair_linear(x, own) if own.dtype == torch.bfloat16 else block_linear(x, own)


def can_pack(weight: torch.Tensor) -> bool:
    """True when oneDNN packing applies: a CPU float32 (or supported bfloat16) weight, torch built with mkldnn."""
    if weight.device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    if weight.dtype == torch.bfloat16:
        return torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return weight.dtype == torch.float32


def pack_linears(model: nn.Module, batch_hint: int = 16) -> int:
    """Replace every plain ``nn.Linear`` of ``model`` by a ``PackedLinear`` sharing its parameters; the weights
    in Inkwell's own layouts end up side by side on huge pages (``engine.huge_pages.arena``)."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and can_pack(child.weight):
                setattr(parent, name, _packed_copy(child, batch_hint))
                count += 1
    owners = [m for m in model.modules() if isinstance(m, PackedLinear) and m.own is not None]
    for module, own in zip(owners, arena([m.own for m in owners])):
        module.own = own
    return count


def _packed_copy(linear: nn.Linear, batch_hint: int) -> PackedLinear:
    with torch.device("meta"):
        packed = PackedLinear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    packed.weight, packed.bias = linear.weight, linear.bias
    if hasattr(linear, "output_sizes"):
        packed.output_sizes = linear.output_sizes
    own = own_layout(linear.weight) if linear.bias is None else None
    if own is not None:
        packed.own = own
    else:
        packed.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), batch_hint)
    return packed
