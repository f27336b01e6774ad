"""Block manager and scheduler with plain ints: admission, chunking, preemption, abort, no leaks."""

from __future__ import annotations

import random

import pytest

from engine.block_manager import BlockManager
from engine.sampling_params import SamplingParams
from engine.scheduler import Scheduler
from engine.sequence import Sequence, SequenceStatus


def _seq(seq_id: int, prompt_len: int, request_id: str | None = None) -> Sequence:
    return Sequence(seq_id, request_id or f"r{seq_id}", list(range(prompt_len)), SamplingParams())


def _sched(blocks: int = 32, block_size: int = 4, seqs: int = 8, tokens: int = 64) -> Scheduler:
    return Scheduler(BlockManager(blocks, block_size), max_num_seqs=seqs, max_num_batched_tokens=tokens)


def _finish_step(scheduler: Scheduler, max_outputs: int = 1000) -> None:
    """Pretend the model ran: append a token to every sampling chunk, finish at ``max_outputs``."""
    for s in scheduler.schedule().scheduled:
        if s.samples:
            s.seq.output_ids.append(7)
            if len(s.seq.output_ids) >= max_outputs:
                s.seq.finish("length")
                scheduler.finish(s.seq)


def test_block_manager_allocates_grows_and_frees() -> None:
    bm = BlockManager(4, 4)
    seq = _seq(0, 1)
    bm.allocate(seq, 5)
    assert seq.block_table == [0, 1] and bm.num_free_blocks == 2
    bm.allocate(seq, 8)
    assert len(seq.block_table) == 2
    assert bm.slot(seq, 5) == 1 * 4 + 1
    assert not bm.can_allocate(seq, 17)
    with pytest.raises(RuntimeError, match="out of KV blocks"):
        bm.allocate(seq, 17)
    bm.free(seq)
    assert bm.num_free_blocks == 4 and seq.block_table == []


def test_admission_respects_max_num_seqs_and_fifo() -> None:
    scheduler = _sched(seqs=2)
    seqs = [_seq(i, 3) for i in range(3)]
    for s in seqs:
        scheduler.add(s)
    plan = scheduler.schedule()
    assert [s.seq for s in plan.scheduled] == seqs[:2]
    assert list(scheduler.waiting) == [seqs[2]]


def test_chunked_prefill_under_token_budget_decodes_first() -> None:
    scheduler = _sched(tokens=10)
    short, long = _seq(0, 3), _seq(1, 25)
    scheduler.add(short)
    scheduler.add(long)
    plan = scheduler.schedule()
    assert [(s.seq, s.start, s.num_tokens) for s in plan.scheduled] == [(short, 0, 3), (long, 0, 7)]
    assert [s.samples for s in plan.scheduled] == [True, False]
    short.output_ids.append(5)
    plan = scheduler.schedule()  # the running decode row goes first, the long prompt takes the rest
    assert {(s.seq.seq_id, s.start, s.num_tokens) for s in plan.scheduled} == {(0, 3, 1), (1, 7, 9)}
    assert plan.scheduled[-1].seq is short  # decode rows come after prefill chunks
    plan = scheduler.schedule()
    assert (plan.scheduled[0].seq, plan.scheduled[0].start, plan.scheduled[0].num_tokens) == (long, 16, 9)
    assert plan.scheduled[0].samples


def test_preemption_recomputes_and_resumes() -> None:
    scheduler = _sched(blocks=4, block_size=2)  # 8 slots
    a, b = _seq(0, 3), _seq(1, 3)
    scheduler.add(a)
    scheduler.add(b)
    _finish_step(scheduler)  # both prefilled: 2 blocks each, all 4 used
    _finish_step(scheduler)  # one decode each (position 3 still fits the 2nd block)
    assert scheduler.blocks.num_free_blocks == 0
    plan = scheduler.schedule()  # both need a 3rd block for position 4: the newest (b) is preempted
    assert plan.preempted == [b]
    assert b.status is SequenceStatus.WAITING and b.block_table == [] and b.num_computed_tokens == 0
    assert [s.seq for s in plan.scheduled] == [a]
    a.output_ids.append(1)
    a.finish("length")
    scheduler.finish(a)
    plan = scheduler.schedule()  # b comes back: its prompt and its output recomputed in one chunk
    assert [(s.seq, s.start, s.num_tokens) for s in plan.scheduled] == [(b, 0, 5)]
    assert plan.scheduled[0].samples


def test_abort_frees_every_block_of_the_request() -> None:
    scheduler = _sched()
    a1, a2, other = _seq(0, 9, "a"), _seq(1, 9, "a"), _seq(2, 5, "b")
    for s in (a1, a2, other):
        scheduler.add(s)
    scheduler.schedule()
    gone = scheduler.abort("a")
    assert set(gone) == {a1, a2} and all(s.finish_reason == "abort" for s in gone)
    assert scheduler.running == [other]
    assert scheduler.blocks.num_free_blocks == 32 - len(other.block_table)
    assert scheduler.abort("missing") == []


def test_no_block_leaks_after_many_random_requests() -> None:
    rng = random.Random(0)
    scheduler = _sched(blocks=24, block_size=4, seqs=6, tokens=16)
    next_id, finished = 0, 0
    for _ in range(400):
        if rng.random() < 0.3:
            scheduler.add(_seq(next_id, rng.randint(1, 30)))
            next_id += 1
        if rng.random() < 0.05 and scheduler.running:
            scheduler.abort(rng.choice(scheduler.running).request_id)
        plan = scheduler.schedule()
        for s in plan.scheduled:
            assert len(s.seq.block_table) * 4 >= s.start + s.num_tokens
            if s.samples:
                s.seq.output_ids.append(1)
                if len(s.seq.output_ids) >= rng.randint(1, 20):
                    scheduler.finish(s.seq)
                    finished += 1
        owned = [b for s in scheduler.running for b in s.block_table]
        assert len(owned) == len(set(owned)) and len(owned) + scheduler.blocks.num_free_blocks == 24
    while scheduler.has_unfinished():
        _finish_step(scheduler, max_outputs=20)
    assert scheduler.blocks.num_free_blocks == 24 and finished > 20
