"""Per-step LoRA metadata: which adapter slot each token uses, built once per step for all layers."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from itertools import groupby

import torch

from kernels.cpu_ext import cpu_ops

Component = tuple[int, float]  # (slot, scale) of one more adapter of a blended sequence


@dataclass(frozen=True)
class Segment:
    """A run of consecutive tokens ``[start, end)`` sharing one slot and one scale (host side)."""

    start: int
    end: int
    slot: int
    scale: float


@dataclass(frozen=True)
class SlotGrid:
    """Adapter tokens regrouped as a padded ``[num_slots, rows]`` grid over slots ``first_slot..``.

    Lets the CPU path run one batched matmul over a contiguous range of slot weights (read in place).
    ``index [num_slots * rows]``: token row of each cell (0 for padding); ``scale [num_slots, rows, 1]``
    fp32: the token's scale, 0 for padding cells (so they add nothing).
    """

    first_slot: int
    num_slots: int
    rows: int
    index: torch.Tensor
    scale: torch.Tensor


@dataclass(frozen=True)
class SlotGroups:
    """Adapter tokens as (token, scale) entries grouped by slot, for the fused CPU kernel.

    ``tokens [E]`` int64 (increasing within a group), ``scales [E]`` fp32, ``starts [G + 1]`` int64 (entry
    offsets of the groups), ``slots [G]`` int64 (ascending, never -1).
    """

    tokens: torch.Tensor
    scales: torch.Tensor
    starts: torch.Tensor
    slots: torch.Tensor


def _slot_groups(entries: list[tuple[int, int, float]]) -> SlotGroups:
    """Group ``(slot, token, scale)`` entries by slot (tokens increasing within a group)."""
    order = sorted(entries)
    slots, starts = [], [0]
    for slot, members in groupby(order, key=lambda entry: entry[0]):
        slots.append(slot)
        starts.append(starts[-1] + len(list(members)))
    return SlotGroups(torch.tensor([t for _, t, _ in order], dtype=torch.long),
                      torch.tensor([c for _, _, c in order], dtype=torch.float32),
                      torch.tensor(starts, dtype=torch.long), torch.tensor(slots, dtype=torch.long))


def _entries(num_tokens: list[int], slots: list[int], scales: list[float],
             extra: Seq[Seq[Component]], long_run: int) -> tuple[list[tuple[int, int, float]], list[Segment]]:
    """One ``(slot, token, scale)`` entry per token and adapter it uses (a blended token has several),
    except for sequences of ``long_run`` tokens or more: those are returned as segments, one per adapter."""
    entries, runs, start = [], [], 0
    for n, slot, scale, more in zip(num_tokens, slots, scales, extra):
        for s, c in ((slot, scale), *more):
            if s >= 0 and n >= long_run:
                runs.append(Segment(start, start + n, s, c))
            elif s >= 0:
                entries += [(s, t, c) for t in range(start, start + n)]
        start += n
    return entries, runs


# a grid is used only while padding keeps it under this many cells per adapter token
MAX_GRID_WASTE = 4
# with the compiled kernels, a prefill run this long goes to one GEMM per slice instead (oneDNN: AMX in bf16)
LONG_RUN = 384  # measured: at 512 tokens GEMMs are 1.2-1.8x faster than the kernel, at 256 even, below slower


def slot_grid(token_slots: list[int], token_scales: list[float]) -> SlotGrid | None:
    """The grid of this step, or ``None`` when it would be mostly padding (long prefill segments)."""
    used = [t for t, s in enumerate(token_slots) if s >= 0]
    if not used:
        return None
    first = min(token_slots[t] for t in used)
    groups: list[list[int]] = [[] for _ in range(max(token_slots) + 1 - first)]
    for t in used:
        groups[token_slots[t] - first].append(t)
    rows = max(len(g) for g in groups)
    if len(groups) * rows > MAX_GRID_WASTE * len(used):
        return None
    index = [g[i] if i < len(g) else 0 for g in groups for i in range(rows)]
    scale = [token_scales[g[i]] if i < len(g) else 0.0 for g in groups for i in range(rows)]
    return SlotGrid(first, len(groups), rows, torch.tensor(index, dtype=torch.long),
                    torch.tensor(scale, dtype=torch.float32).view(len(groups), rows, 1))


def _segments(num_tokens: list[int], slots: list[int], scales: list[float]) -> list[Segment]:
    """Merge consecutive sequences with the same (slot, scale); drop runs without an adapter."""
    runs: list[Segment] = []
    start = 0
    for n, slot, scale in zip(num_tokens, slots, scales):
        last = runs[-1] if runs else None
        if last is not None and last.end == start and (last.slot, last.scale) == (slot, scale):
            runs[-1] = Segment(last.start, start + n, slot, scale)
        elif slot >= 0 and n > 0:
            runs.append(Segment(start, start + n, slot, scale))
        start += n
    return runs


def _check(num_tokens: list[int], slots: list[int], scales: list[float]) -> None:
    if not len(num_tokens) == len(slots) == len(scales):
        raise ValueError(
            f"LoRA metadata lists differ in length: num_tokens={len(num_tokens)}, "
            f"slots={len(slots)}, scales={len(scales)}"
        )
    if any(n < 0 for n in num_tokens) or any(s < -1 for s in slots):
        raise ValueError(f"LoRA metadata: token counts must be >= 0 and slots >= -1, got {num_tokens}, {slots}")


def _check_extra(extra: Seq[Seq[Component]], slots: list[int], capacity: int) -> None:
    if len(extra) != len(slots):
        raise ValueError(f"LoRA metadata: {len(extra)} extra component lists for {len(slots)} sequences")
    for i, more in enumerate(extra):
        used = [slots[i], *(s for s, _ in more)]
        if more and (min(used) < 0 or len(set(used)) != len(used)):
            raise ValueError(f"LoRA metadata: sequence {i} blends slots {used}; they must be distinct and >= 0")
        if len(more) > capacity:
            raise ValueError(f"LoRA metadata: sequence {i} blends {len(more) + 1} adapters, "
                             f"preallocated for {capacity + 1}")


@dataclass
class LoRAMetadata:
    """Preallocated device buffers describing one step, shared by every LoRA-wrapped layer.

    Token view (decode, BGMV): ``token_slots [T]`` (-1 = no adapter), ``token_scales [T]``.
    Segment view (prefill, SGMV): ``seg_starts / seg_lens / seg_slots [G]``, and ``segments`` on the
    host for the CPU path. Group view (CPU with the compiled kernels): ``groups``, see :class:`SlotGroups`.
    With the groups, sequences of ``LONG_RUN`` tokens or more (prefill chunks) are left out of them and
    listed in ``long_runs`` instead (one segment per adapter), for GEMMs. Grid view (CPU without them, decode-heavy steps): ``grid``, see :class:`SlotGrid`. Allocate once with
    :meth:`allocate`, refill every step with :meth:`fill`.

    Style blends: these views hold each sequence's first adapter. A blended sequence's other adapters
    are in the slot groups (one entry per token and adapter: the fused kernel adds them all) or, on the
    paths without groups, in :attr:`blend_passes`: pass ``k`` is a metadata of the same step holding every
    sequence's ``k+2``-th adapter (slot -1 for the others), run as one more SGMV/BGMV pass.
    """

    token_slots_buf: torch.Tensor  # [max_tokens] int64
    token_scales_buf: torch.Tensor  # [max_tokens] fp32
    seg_buf: torch.Tensor  # [3, max_segments] int64: starts, lens, slots
    num_tokens: int = 0
    is_decode: bool = False
    max_seg_len: int = 0
    segments: list[Segment] = field(default_factory=list)
    grid: SlotGrid | None = None
    groups: SlotGroups | None = None
    long_runs: list[Segment] = field(default_factory=list)  # with ``groups``: runs the kernel leaves to GEMMs
    slot_ranks: torch.Tensor | None = None  # [S] int64 rank held by each slot (None: the stacks' full rank)
    spare_passes: list[LoRAMetadata] = field(default_factory=list)  # preallocated, one per extra component
    num_blend_passes: int = 0

    @classmethod
    def allocate(cls, max_tokens: int, max_segments: int, device: torch.device | str = "cpu",
                 max_components: int = 1) -> LoRAMetadata:
        """Preallocate buffers for up to ``max_tokens`` tokens, ``max_segments`` sequences and
        ``max_components`` adapters per sequence (a blend)."""
        def buffers() -> LoRAMetadata:
            return cls(
                token_slots_buf=torch.full((max_tokens,), -1, dtype=torch.long, device=device),
                token_scales_buf=torch.zeros(max_tokens, dtype=torch.float32, device=device),
                seg_buf=torch.zeros((3, max_segments), dtype=torch.long, device=device),
            )

        meta = buffers()
        meta.spare_passes = [buffers() for _ in range(max_components - 1)]
        return meta

    @classmethod
    def build(
        cls, num_tokens: list[int], slots: list[int], scales: list[float], device: torch.device | str = "cpu",
        extra: Seq[Seq[Component]] | None = None,
    ) -> LoRAMetadata:
        """Allocate exactly-sized buffers and fill them from per-sequence lists (tests, one-off use)."""
        components = 1 + max((len(more) for more in extra or ()), default=0)
        meta = cls.allocate(max(sum(num_tokens), 1), max(len(num_tokens), 1), device, components)
        meta.fill(num_tokens, slots, scales, extra)
        return meta

    def fill(self, num_tokens: list[int], slots: list[int], scales: list[float],
             extra: Seq[Seq[Component]] | None = None) -> None:
        """Describe this step: sequence ``i`` contributes ``num_tokens[i]`` consecutive tokens on ``slots[i]``.

        Sequences are laid out in order; ``scales[i]`` is the per-request strength (adapter scaling is
        already folded into the slot weights). ``extra[i]``: the ``(slot, scale)`` of each further adapter
        a blended sequence adds (distinct slots, ``slots[i] >= 0``). One host->device copy per buffer.
        """
        _check(num_tokens, slots, scales)
        extra = extra if extra is not None else [()] * len(num_tokens)
        _check_extra(extra, slots, len(self.spare_passes))
        total = sum(num_tokens)
        if total > self.token_slots_buf.numel() or len(num_tokens) > self.seg_buf.shape[1]:
            raise ValueError(
                f"LoRA metadata overflow: {total} tokens / {len(num_tokens)} sequences exceed the "
                f"preallocated {self.token_slots_buf.numel()} / {self.seg_buf.shape[1]}"
            )
        token_slots = [s for n, s in zip(num_tokens, slots) for _ in range(n)]
        token_scales = [c for n, c in zip(num_tokens, scales) for _ in range(n)]
        self.token_slots_buf[:total].copy_(torch.tensor(token_slots, dtype=torch.long))
        self.token_scales_buf[:total].copy_(torch.tensor(token_scales, dtype=torch.float32))
        self.segments = _segments(num_tokens, slots, scales)
        on_cpu = self.token_slots_buf.device.type == "cpu"
        with_groups = on_cpu and cpu_ops() is not None
        self.groups, self.long_runs = None, []
        if with_groups:
            entries, self.long_runs = _entries(num_tokens, slots, scales, extra, LONG_RUN)
            self.groups = _slot_groups(entries)
        self.grid = slot_grid(token_slots, token_scales) if on_cpu and self.groups is None else None
        self._fill_segments()
        self.num_tokens = total
        self.is_decode = all(n == 1 for n in num_tokens)
        self.num_blend_passes = 0 if with_groups else self._fill_blend_passes(num_tokens, extra)

    def _fill_blend_passes(self, num_tokens: list[int], extra: Seq[Seq[Component]]) -> int:
        """Fill pass ``k`` with every sequence's ``k+2``-th adapter; return how many passes are used."""
        used = max((len(more) for more in extra), default=0)
        for k, meta in enumerate(self.spare_passes[:used]):
            parts = [more[k] if len(more) > k else (-1, 0.0) for more in extra]
            meta.fill(num_tokens, [s for s, _ in parts], [c for _, c in parts])
        return used

    @property
    def blend_passes(self) -> list[LoRAMetadata]:
        """This step's extra passes (empty without blends, or when the slot groups hold every entry)."""
        return self.spare_passes[:self.num_blend_passes]

    def _fill_segments(self) -> None:
        rows = [[s.start for s in self.segments], [s.end - s.start for s in self.segments],
                [s.slot for s in self.segments]]
        if self.segments:
            self.seg_buf[:, :len(self.segments)].copy_(torch.tensor(rows, dtype=torch.long))
        self.max_seg_len = max(rows[1], default=0)

    @property
    def has_lora(self) -> bool:
        """Whether any token of this step uses an adapter."""
        return bool(self.segments)

    @property
    def token_slots(self) -> torch.Tensor:
        """``[T]`` slot per token, -1 for no adapter."""
        return self.token_slots_buf[:self.num_tokens]

    @property
    def token_scales(self) -> torch.Tensor:
        """``[T]`` fp32 per-request strength per token."""
        return self.token_scales_buf[:self.num_tokens]

    @property
    def seg_starts(self) -> torch.Tensor:
        """``[G]`` first token of each adapter segment."""
        return self.seg_buf[0, :len(self.segments)]

    @property
    def seg_lens(self) -> torch.Tensor:
        """``[G]`` token count of each adapter segment."""
        return self.seg_buf[1, :len(self.segments)]

    @property
    def seg_slots(self) -> torch.Tensor:
        """``[G]`` slot of each adapter segment (never -1)."""
        return self.seg_buf[2, :len(self.segments)]
