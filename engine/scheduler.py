"""Continuous batching: which sequences run this step, and how many of their tokens (torch-free).

Running sequences go first (one token each when decoding, a chunk when still prefilling), then
waiting ones are admitted in arrival order while the per-step token budget, the sequence limit and
the free KV blocks allow. An admitted sequence starts after the longest prefix the block manager
finds cached for its adapter identity, so only the rest counts against the budget. When blocks run
out, the newest running sequence is preempted: its blocks are released (kept cached) and it returns
to the front of the queue, to be recomputed later (from the cache where its blocks survive).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from engine.block_manager import BlockManager
from engine.prefix_cache import AdapterKey
from engine.sequence import Sequence, SequenceStatus


@dataclass
class ScheduledSeq:
    """``num_tokens`` tokens of ``seq``, from position ``start``, run this step."""

    seq: Sequence
    start: int
    num_tokens: int

    @property
    def samples(self) -> bool:
        """True when this chunk reaches the end of the sequence, so a new token is sampled."""
        return self.start + self.num_tokens == self.seq.num_tokens


@dataclass
class SchedulerOutput:
    """One step's plan: prefill chunks (``num_tokens`` > 1) first, then decode rows."""

    scheduled: list[ScheduledSeq] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        """Total token rows of the step."""
        return sum(s.num_tokens for s in self.scheduled)


class AdmissionGate(Protocol):
    """Decides whether a waiting sequence may start now (its adapter needs a device slot).

    ``cache_key`` names the adapter weights a sequence's keys/values are computed with (those of its
    pinned slot, else those it would get now); None when not known before admission.
    """

    def admit(self, seq: Sequence) -> bool: ...

    def release(self, seq: Sequence) -> None: ...

    def cache_key(self, seq: Sequence) -> AdapterKey | None: ...


class Scheduler:
    """Owns the waiting queue and the running list; the block manager owns the blocks.

    With a ``gate`` (the LoRA manager), a waiting sequence it refuses stays queued while later ones
    may start; it is asked first again next step, so it gets the first slot that frees up.
    """

    def __init__(self, block_manager: BlockManager, max_num_seqs: int, max_num_batched_tokens: int,
                 gate: AdmissionGate | None = None) -> None:
        self.gate = gate
        self.blocks = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    def add(self, seq: Sequence) -> None:
        """Queue a new sequence."""
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def has_unfinished(self) -> bool:
        """True while anything waits or runs."""
        return bool(self.waiting or self.running)

    def schedule(self) -> SchedulerOutput:
        """Plan the next step and advance each scheduled sequence's ``num_computed_tokens``."""
        out = SchedulerOutput()
        budget = self._schedule_running(self.max_num_batched_tokens, out)
        if not out.preempted:
            self._admit_waiting(budget, out)
        # stable: prefill chunks, then decodes grouped by adapter (one LoRA segment per adapter)
        out.scheduled.sort(key=lambda s: (s.num_tokens == 1, s.seq.lora_name if s.num_tokens == 1 else ""))
        return out

    def cache_computed(self, chunks: list[ScheduledSeq]) -> None:
        """These chunks' step ran cleanly: their sequences' full blocks may now be found by later ones."""
        for chunk in chunks:
            self.blocks.cache_full_blocks(chunk.seq)

    def finish(self, seq: Sequence) -> None:
        """Drop a finished sequence from the running list and free its blocks."""
        if seq in self.running:
            self.running.remove(seq)
        self.blocks.free(seq)
        if self.gate is not None:
            self.gate.release(seq)

    def abort(self, request_id: str) -> list[Sequence]:
        """Remove every sequence of a request, free its blocks, and return them (finished "abort")."""
        gone = [s for s in (*self.waiting, *self.running) if s.request_id == request_id]
        for seq in gone:
            if seq in self.waiting:
                self.waiting.remove(seq)
            self.finish(seq)
            seq.finish("abort")
        return gone

    def _schedule_running(self, budget: int, out: SchedulerOutput) -> int:
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.num_tokens - seq.num_computed_tokens, budget)
            if n and not self._make_room(seq, seq.num_computed_tokens + n, out):
                break  # seq itself was preempted; it was the last one running
            if n:  # 0: nothing new to compute (its sampled token is not appended yet)
                self._take(seq, n, out)
                budget -= n
            i += 1
        return budget

    def _make_room(self, seq: Sequence, num_tokens: int, out: SchedulerOutput) -> bool:
        """Preempt from the tail of ``running`` until ``seq`` can cover ``num_tokens``; False if seq went."""
        while not self.blocks.can_allocate(seq, num_tokens):
            victim = self.running.pop()
            self._preempt(victim)
            out.preempted.append(victim)
            if victim is seq:
                return False
        return True

    def _admit_waiting(self, budget: int, out: SchedulerOutput) -> None:
        for seq in list(self.waiting):
            if budget <= 0 or len(self.running) >= self.max_num_seqs:
                break
            cached = self.blocks.match(seq, self._cache_key(seq))
            start = len(cached) * self.blocks.block_size
            n = min(seq.num_tokens - start, budget)
            if not self.blocks.can_allocate(seq, start + n, cached):
                break
            if self.gate is not None and not self.gate.admit(seq):
                continue  # its adapter waits for a free slot
            self._start(seq, cached)
            self._take(seq, n, out)
            budget -= n

    def _cache_key(self, seq: Sequence) -> AdapterKey | None:
        return self.gate.cache_key(seq) if self.gate is not None else ()

    def _start(self, seq: Sequence, cached: list[int]) -> None:
        """Move an admitted ``seq`` to running, its ``cached`` prefix blocks already computed."""
        self.waiting.remove(seq)
        seq.status = SequenceStatus.RUNNING
        self.running.append(seq)
        self.blocks.share(seq, cached, self._cache_key(seq))
        seq.num_computed_tokens = len(cached) * self.blocks.block_size

    def _take(self, seq: Sequence, n: int, out: SchedulerOutput) -> None:
        self.blocks.allocate(seq, seq.num_computed_tokens + n)
        out.scheduled.append(ScheduledSeq(seq, seq.num_computed_tokens, n))
        seq.num_computed_tokens += n

    def _preempt(self, seq: Sequence) -> None:
        self.blocks.free(seq)
        seq.num_computed_tokens = 0
        seq.status = SequenceStatus.WAITING
        self.waiting.appendleft(seq)
