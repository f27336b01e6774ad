"""The CPU speed-ups applied to a loaded model, in order, each a module swap (engine/model.py is untouched).

Apply them last (after the LoRA wrappers): packing reaches the base linears inside the wrappers, and
the fused layers bind the projections as they are then.
"""

from __future__ import annotations

import logging

import torch

from engine.cpu_layers import fuse_layers
from engine.decode_stack import stack_decode_layers
from engine.model import Transformer
from engine.packed_linear import PackedLinear, pack_linears
from kernels import block_gemm, pair_gemm, tile_tuning
from kernels.cpu_ext import cpu_ops, fast_bf16_flag

log = logging.getLogger(__name__)


def speed_up_cpu(model: Transformer, requested_dtype: str) -> None:
    """Pack the linears (oneDNN or Inkwell's own layouts, their tile tuned to this host) and fuse the decoder
    layers onto the C++ kernels; log what was chosen."""
    weight = model.embed_tokens.weight
    if weight.device.type != "cpu":
        return
    _log_dtype(weight.dtype, requested_dtype)
    packed = pack_linears(model)
    _tune_own_tile(model)
    ops = cpu_ops()
    fused = fuse_layers(model, ops)
    stacked = stack_decode_layers(model, ops)
    log.info("CPU speed-ups: %d linears packed, %d decoder layers on the fused kernels%s%s", packed, fused,
             "" if fused else " (torch path: slower)", ", decode steps in one call" if stacked else "")


def _log_dtype(dtype: torch.dtype, requested: str) -> None:
    flag = fast_bf16_flag()
    if requested == "auto":
        log.info("dtype auto -> %s (%s)", str(dtype).removeprefix("torch."),
                 f"this CPU has {flag}" if flag else "no AMX / AVX-512 BF16 on this CPU")
    elif dtype == torch.bfloat16 and flag is None:
        log.warning("bfloat16 on a CPU without AMX or AVX-512 BF16 is slow (~3x float32): prefer float32")


def _tune_own_tile(model: Transformer) -> None:
    """Pick this host's faster tile for the linears on Inkwell's own layouts (bf16 pair, fp32 block), if any."""
    weights = [m.own for m in model.modules() if isinstance(m, PackedLinear) and m.own is not None]
    if weights:
        dtype = weights[0].dtype  # one for the whole model (pack_linears' arena holds one)
        kernel = pair_gemm.KERNEL if dtype == torch.bfloat16 else block_gemm.KERNEL
        tile, best = tile_tuning.tune(kernel, weights)
        log.info("%s linears: tile %s (%d rows through the weights: %s)", str(dtype).removeprefix("torch."), tile,
                 tile_tuning.TUNE_ROWS, ", ".join(f"{name} {seconds * 1e3:.1f} ms" for name, seconds in best.items()))
