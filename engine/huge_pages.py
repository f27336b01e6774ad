"""The big CPU arrays every decode step streams, on 2 MiB pages: packed weights, the KV cache, the LoRA stacks.

A step reads all of them from memory. On 4 KiB pages that is a TLB miss every 4 KiB, and the hardware
prefetcher stops at every page end; on transparent huge pages neither happens (PERFORMANCE.md,
seventeenth pass). ``huge_zeros`` maps anonymous memory (zero-filled by the OS), asks Linux for huge pages
on it (``MADV_HUGEPAGE``: honoured where THP is "madvise" or "always") and returns it as a tensor; where
that cannot be asked (another OS, THP off) the memory is the same, on ordinary pages.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Sequence

import torch

HUGE_PAGE = 2 << 20  # bytes: x86-64's transparent huge page
ALIGN = 64  # bytes: a cache line, where arena() places each tensor


def huge_zeros(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """A zero-filled CPU tensor of ``shape`` whose memory starts on a huge-page boundary and is advised
    ``MADV_HUGEPAGE``; arrays under one huge page are plain ``torch.zeros`` (no page to gain)."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < HUGE_PAGE:
        return torch.zeros(tuple(shape), dtype=dtype)
    region = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    raw = torch.frombuffer(region, dtype=torch.uint8)  # keeps the mapping alive; unmapped with the last view
    start = -raw.data_ptr() % HUGE_PAGE
    _advise(region, start, nbytes)
    return raw[start:start + nbytes].view(dtype).view(tuple(shape))


def arena(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Copies of ``tensors`` (contiguous, CPU, one dtype) side by side in one ``huge_zeros`` array, in order:
    a small model's weights share huge pages instead of each being under one."""
    if not tensors:
        return []
    dtype = tensors[0].dtype
    starts, total = [], 0
    for t in tensors:
        if t.dtype != dtype:
            raise ValueError(f"arena takes one dtype, got {dtype} and {t.dtype}")
        starts.append(total)
        total += -(-t.numel() * dtype.itemsize // ALIGN) * ALIGN // dtype.itemsize  # elements; starts on a line
    flat = huge_zeros([total], dtype)
    copies = []
    for t, start in zip(tensors, starts):
        copy = flat[start:start + t.numel()].view(t.shape)
        copy.copy_(t)
        copies.append(copy)
    return copies


def _advise(region: mmap.mmap, start: int, length: int) -> None:
    """Ask for huge pages on ``region[start:start + length]``, where this OS and Python can."""
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is None:
        return
    try:
        region.madvise(advice, start, length)
    except OSError:  # THP "never" or not built: ordinary pages
        pass
