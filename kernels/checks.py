"""Host-side argument checks run before every Triton launch (cheap: shapes, dtypes, layout only)."""

from __future__ import annotations

import functools

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
INDEX_DTYPES = (torch.int32, torch.int64)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_rows(name: str, tensor: torch.Tensor) -> None:
    _require(tensor.dim() == 2, f"{name} must be 2-D [tokens, features], got shape {tuple(tensor.shape)}")
    _require(tensor.stride(1) == 1, f"{name} must be contiguous along its last dim, strides {tensor.stride()}")


def _check_stack(name: str, tensor: torch.Tensor, dtype: torch.dtype) -> None:
    _require(tensor.dim() == 3 and tensor.is_contiguous(),
             f"{name} must be a contiguous [slots, rows, cols] stack, got shape {tuple(tensor.shape)}")
    _require(tensor.dtype == dtype, f"{name} dtype {tensor.dtype} differs from the activations' {dtype}")


def _check_index(*tensors: torch.Tensor) -> None:
    for t in tensors:
        _require(t.dtype in INDEX_DTYPES and t.is_contiguous(), f"index tensors must be contiguous int32/int64, got {t.dtype}")


def check_shrink(x: torch.Tensor, lora_a: torch.Tensor, out: torch.Tensor, token_scales: torch.Tensor,
                 *index: torch.Tensor) -> None:
    """Validate a shrink call: ``x [T, H]``, ``lora_a [S, RS, H]``, ``out [T, RS] fp32``, scales ``[T]``."""
    _check_rows("x", x)
    _check_rows("out", out)
    _require(x.dtype in FLOAT_DTYPES, f"x dtype {x.dtype} is not one of {FLOAT_DTYPES}")
    _check_stack("lora_a", lora_a, x.dtype)
    _require(out.dtype == torch.float32, f"the shrink buffer must be float32, got {out.dtype}")
    _require(lora_a.shape[2] == x.shape[1], f"lora_a in-features {lora_a.shape[2]} != x features {x.shape[1]}")
    _require(out.shape == (x.shape[0], lora_a.shape[1]),
             f"out shape {tuple(out.shape)} != (tokens, ranks) {(x.shape[0], lora_a.shape[1])}")
    _require(token_scales.dtype == torch.float32 and token_scales.numel() >= x.shape[0],
             f"token_scales must be float32 with one entry per token, got {token_scales.dtype}[{token_scales.numel()}]")
    _check_index(*index)


def check_expand(buf: torch.Tensor, lora_b: torch.Tensor, y: torch.Tensor, slice_offsets: tuple[int, ...],
                 *index: torch.Tensor) -> None:
    """Validate an expand call: ``buf [T, n_slices*R] fp32``, ``lora_b [S, N, R]``, ``y [T, N]``."""
    _check_rows("buf", buf)
    _check_rows("y", y)
    _require(y.dtype in FLOAT_DTYPES, f"y dtype {y.dtype} is not one of {FLOAT_DTYPES}")
    _check_stack("lora_b", lora_b, y.dtype)
    _require(buf.dtype == torch.float32, f"the shrink buffer must be float32, got {buf.dtype}")
    n_slices = len(slice_offsets) - 1
    _require(n_slices >= 1 and slice_offsets[0] == 0 and list(slice_offsets) == sorted(slice_offsets),
             f"slice_offsets must start at 0 and increase, got {slice_offsets}")
    _require(slice_offsets[-1] == lora_b.shape[1] == y.shape[1],
             f"slice_offsets end {slice_offsets[-1]}, lora_b outputs {lora_b.shape[1]} and y width {y.shape[1]} differ")
    _require(buf.shape == (y.shape[0], n_slices * lora_b.shape[2]),
             f"buf shape {tuple(buf.shape)} != (tokens, n_slices * rank) {(y.shape[0], n_slices * lora_b.shape[2])}")
    _check_index(*index)


@functools.lru_cache(maxsize=64)
def offsets_tensor(slice_offsets: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """The slice offsets as a cached int32 device tensor (one per fused layer shape)."""
    return torch.tensor(slice_offsets, dtype=torch.int32, device=device)
