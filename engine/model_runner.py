"""Turns a scheduler plan into one forward pass: builds the step's tensors once, runs, samples."""

from __future__ import annotations

import torch

from engine.attention import uses_row_kernel
from engine.context import StepContext, reset_context, set_context
from engine.lora.manager import LoRAManager
from engine.model import Transformer
from engine.sampler import SampledToken, Sampler, SampleRow
from engine.scheduler import ScheduledSeq


class ModelRunner:
    """Owns the model and its paged KV cache binding; ``run`` executes one scheduled step."""

    def __init__(self, model: Transformer, block_size: int, sampler: Sampler | None = None,
                 lora: LoRAManager | None = None) -> None:
        self.model = model
        self.lora = lora
        self.block_size = block_size
        self.window = model.args.sliding_window
        self.device = model.embed_tokens.weight.device
        self.masks = not uses_row_kernel(self.device)  # the torch path's attention masks are needed
        self.sampler = sampler or Sampler()

    @torch.inference_mode()
    def run(self, scheduled: list[ScheduledSeq]) -> list[SampledToken]:
        """Run the step; return one sampled token per scheduled chunk that ``samples``, in order."""
        logits = self.forward(scheduled)  # [R, V]
        rows = [SampleRow(s.seq.params, s.seq.generator, s.seq.prompt_ids, s.seq.output_ids, s.seq.lines)
                for s in scheduled if s.samples]
        return self.sampler(logits.float(), rows)

    @torch.inference_mode()
    def forward(self, scheduled: list[ScheduledSeq]) -> torch.Tensor:
        """Logits ``[R, V]`` of the last token of every chunk that ``samples``."""
        input_ids, ctx = self.prepare(scheduled)
        set_context(ctx)
        try:
            hidden = self.model(input_ids, ctx.positions)  # [T, hidden]
            return self.model.compute_logits(hidden[ctx.logits_indices])
        finally:
            reset_context()

    def prepare(self, scheduled: list[ScheduledSeq]) -> tuple[torch.Tensor, StepContext]:
        """Input ids ``[T]`` and the step context for chunks ordered prefills first, then decodes."""
        input_ids, positions, slots, cu, logits_rows = [], [], [], [0], []
        for s in scheduled:
            end = s.start + s.num_tokens
            input_ids += s.seq.tokens(s.start, end)
            positions += range(s.start, end)
            slots += self._slots(s.seq.block_table, s.start, end)
            cu.append(cu[-1] + s.num_tokens)
            if s.samples:
                logits_rows.append(cu[-1] - 1)
        num_prefills = sum(1 for s in scheduled if s.num_tokens > 1)
        context_lens = [s.start + s.num_tokens for s in scheduled]
        lens, tables = self._tensor(context_lens), self._block_tables([s.seq.block_table for s in scheduled])
        position_rows = self._tensor(positions)
        return self._tensor(input_ids), StepContext(
            positions=position_rows,
            slot_mapping=self._tensor(slots),
            cu_seqlens_q=self._tensor(cu),
            context_lens=lens,
            block_tables=tables,
            num_prefills=num_prefills,
            num_prefill_tokens=cu[num_prefills],
            prefill_bounds=[(cu[i], cu[i + 1], context_lens[i]) for i in range(num_prefills)],
            prefill_masks=[self._prefill_mask(s) for s in scheduled[:num_prefills]] if self.masks else [],
            decode_mask=self._decode_mask(context_lens[num_prefills:]) if self.masks else None,
            row_tables=self._row_tables(tables, cu, num_prefills),
            row_lens=position_rows + 1,
            logits_indices=self._tensor(logits_rows),
            lora=self.lora.step_metadata(scheduled) if self.lora is not None else None,
        )

    def _tensor(self, values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64, device=self.device)

    def _slots(self, block_table: list[int], start: int, end: int) -> list[int]:
        bs = self.block_size
        return [block_table[p // bs] * bs + p % bs for p in range(start, end)]

    def _block_tables(self, tables: list[list[int]]) -> torch.Tensor:
        """``[S, N]`` block ids, padded with block 0 (always masked out)."""
        width = max(len(t) for t in tables)
        return self._tensor([t + [0] * (width - len(t)) for t in tables]).view(len(tables), width)

    def _row_tables(self, tables: torch.Tensor, cu: list[int], num_prefills: int) -> torch.Tensor:
        """``[T, N]``: each row's sequence's block table (``tables [S, N]`` itself when every segment is one row)."""
        if not num_prefills:
            return tables
        rows_per_segment = self._tensor([end - start for start, end in zip(cu[:-1], cu[1:])])  # [S]
        return tables.repeat_interleave(rows_per_segment, dim=0)

    def _visible(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """Causal (and sliding-window) visibility of keys ``k_pos`` from queries ``q_pos`` (broadcast)."""
        mask = k_pos <= q_pos
        if self.window is not None:
            mask &= k_pos > q_pos - self.window
        return mask

    def _prefill_mask(self, s: ScheduledSeq) -> torch.Tensor | None:
        """``[Q, C]`` mask of one prefill chunk, or None when plain causal over its own rows suffices."""
        if s.start == 0 and (self.window is None or s.num_tokens <= self.window):
            return None
        end = s.start + s.num_tokens
        q_pos = torch.arange(s.start, end, device=self.device)[:, None]  # [Q, 1]
        return self._visible(q_pos, torch.arange(end, device=self.device)[None, :])  # [Q, C]

    def _decode_mask(self, context_lens: list[int]) -> torch.Tensor | None:
        """``[D, 1, 1, L]`` mask of the decode rows, L = their widest block table in slots."""
        if not context_lens:
            return None
        width = -(-max(context_lens) // self.block_size) * self.block_size
        lens = self._tensor(context_lens)[:, None]  # [D, 1]
        k_pos = torch.arange(width, device=self.device)[None, :]  # [1, L]
        mask = self._visible(lens - 1, k_pos)  # [D, L]
        return mask[:, None, None, :]
