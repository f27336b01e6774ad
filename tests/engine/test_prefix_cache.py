"""The prefix cache with plain ints: hits, the last-token rule, adapter keys, refcounts, eviction, no leaks.

A simulated KV cache stands in for the model: every slot a step writes holds (adapter key, the tokens up
to and including its position), and every slot a chunk reads from the cache must hold exactly that for
the reading sequence, so a block shared wrongly, freed too early or overwritten is caught.
"""

from __future__ import annotations

import random

from engine.block_manager import BlockManager
from engine.lora.request import LoRARequest
from engine.sampling_params import SamplingParams
from engine.scheduler import Scheduler, SchedulerOutput
from engine.sequence import Sequence

BS = 4


class FakeGate:
    """Adapter versions by name; a sequence keeps the version it was admitted with (its pinned slot)."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.pinned: dict[int, tuple] = {}

    def admit(self, seq: Sequence) -> bool:
        self.pinned.setdefault(seq.seq_id, self.cache_key(seq))
        return True

    def release(self, seq: Sequence) -> None:
        self.pinned.pop(seq.seq_id, None)

    def cache_key(self, seq: Sequence) -> tuple:
        if seq.seq_id in self.pinned:
            return self.pinned[seq.seq_id]
        lora = seq.lora_request
        return () if lora is None else ((lora.name, self.versions.setdefault(lora.name, 1), lora.lora_scale),)


def _seq(seq_id: int, prompt: list[int], lora: LoRARequest | None = None) -> Sequence:
    return Sequence(seq_id, f"r{seq_id}", list(prompt), SamplingParams(), lora_request=lora)


def _sched(blocks: int = 32, seqs: int = 8, tokens: int = 64, gate: FakeGate | None = None,
           caching: bool = True) -> Scheduler:
    return Scheduler(BlockManager(blocks, BS, caching), max_num_seqs=seqs, max_num_batched_tokens=tokens,
                     gate=gate)


class SimulatedKV:
    """Slot -> what a correct forward pass would have written there."""

    def __init__(self) -> None:
        self.slots: dict[int, tuple] = {}
        self.sampled: list[Sequence] = []  # the sequences the last step gave a token

    def run(self, scheduler: Scheduler) -> SchedulerOutput:
        """One step: check every cached position a chunk reads, write its own, cache, sample a token."""
        plan = scheduler.schedule()
        for chunk in plan.scheduled:
            seq, blocks = chunk.seq, scheduler.blocks
            for pos in range(chunk.start):
                assert self.slots.get(blocks.slot(seq, pos)) == self._content(seq, pos), (seq.seq_id, pos)
            others = {b for s in scheduler.running if s is not seq for b in s.block_table}
            for pos in range(chunk.start, chunk.start + chunk.num_tokens):
                assert seq.block_table[pos // BS] not in others, "wrote into a shared block"
                self.slots[blocks.slot(seq, pos)] = self._content(seq, pos)
        scheduler.cache_computed(plan.scheduled)
        self.sampled = [chunk.seq for chunk in plan.scheduled if chunk.samples]
        for seq in self.sampled:
            seq.output_ids.append(50 + len(seq.output_ids))
        return plan

    @staticmethod
    def _content(seq: Sequence, pos: int) -> tuple:
        return seq.cache_key, tuple(seq.tokens(0, pos + 1))


def _complete(scheduler: Scheduler, kv: SimulatedKV, seq: Sequence, outputs: int = 1) -> None:
    """Run steps until ``seq`` has ``outputs`` tokens, then finish it."""
    for _ in range(100):
        if len(seq.output_ids) >= outputs:
            break
        kv.run(scheduler)
    seq.finish("length")
    scheduler.finish(seq)


def test_a_repeated_prompt_reuses_its_full_blocks_and_computes_the_rest() -> None:
    scheduler, kv = _sched(), SimulatedKV()
    first = _seq(0, list(range(10)))
    scheduler.add(first)
    _complete(scheduler, kv, first, outputs=3)  # 12 tokens: 10 prompt + 2 computed outputs -> 3 full blocks
    assert scheduler.blocks.num_cached_blocks == 3 and first.num_cached_tokens == 0
    again = _seq(1, list(range(10)) + [50, 51, 7])
    scheduler.add(again)
    plan = kv.run(scheduler)
    assert [(s.start, s.num_tokens) for s in plan.scheduled] == [(12, 1)]  # prompt + the old outputs hit
    assert again.num_cached_tokens == 12 and scheduler.blocks.num_cached_blocks == 0
    assert scheduler.blocks.stats()["hits"] == 12 and scheduler.blocks.stats()["queries"] == 10 + 13


def test_a_fully_cached_prompt_still_computes_its_last_token() -> None:
    scheduler, kv = _sched(), SimulatedKV()
    _complete(scheduler, kv, _add(scheduler, _seq(0, list(range(8)))))
    again = _add(scheduler, _seq(1, list(range(8))))
    plan = kv.run(scheduler)
    assert [(s.start, s.num_tokens) for s in plan.scheduled] == [(4, 4)]
    assert again.num_cached_tokens == 4 and len(again.output_ids) == 1  # its last prompt token ran and sampled


def _add(scheduler: Scheduler, seq: Sequence) -> Sequence:
    scheduler.add(seq)
    return seq


def test_blocks_are_never_shared_across_adapters_strengths_or_versions() -> None:
    gate = FakeGate()
    scheduler, kv = _sched(gate=gate), SimulatedKV()
    prompt = list(range(13))
    noir, legal = LoRARequest("noir", "/noir"), LoRARequest("legal", "/legal")
    half = LoRARequest("noir", "/noir", lora_scale=0.5)
    _complete(scheduler, kv, _add(scheduler, _seq(0, prompt, noir)))
    starts = []
    for seq_id, lora in enumerate([None, legal, half, noir], start=1):
        starts.append(_first_start(scheduler, kv, _seq(seq_id, prompt, lora)))
        _complete(scheduler, kv, scheduler.running[0])
    assert starts == [0, 0, 0, 12]  # only the same adapter, version and strength hits
    gate.versions["noir"] = 2  # replaced without invalidate(): the version alone keeps them apart
    assert _first_start(scheduler, kv, _seq(9, prompt, noir)) == 0


def test_invalidate_drops_the_adapters_blocks_and_frees_them() -> None:
    gate = FakeGate()
    scheduler, kv = _sched(gate=gate), SimulatedKV()
    _complete(scheduler, kv, _add(scheduler, _seq(0, list(range(9)), LoRARequest("noir", "/n"))))
    _complete(scheduler, kv, _add(scheduler, _seq(1, list(range(9)))))
    blocks = scheduler.blocks
    assert blocks.num_cached_blocks == 4
    blocks.invalidate("noir")
    assert blocks.num_cached_blocks == 2 and blocks.num_free_blocks == 30


def test_shared_blocks_stay_until_their_last_user_finishes() -> None:
    scheduler, kv = _sched(), SimulatedKV()
    prompt = list(range(9))
    _complete(scheduler, kv, _add(scheduler, _seq(0, prompt)))
    a, b = _add(scheduler, _seq(1, prompt)), _add(scheduler, _seq(2, prompt))
    kv.run(scheduler)
    assert a.block_table[:2] == b.block_table[:2] and scheduler.blocks.num_used_blocks == 4
    _complete(scheduler, kv, a, outputs=2)
    assert scheduler.blocks.num_used_blocks == 3  # a's own third block went; the shared two stay
    _complete(scheduler, kv, b, outputs=3)
    assert scheduler.blocks.num_used_blocks == 0


def test_eviction_under_pressure_takes_the_least_recently_released_blocks() -> None:
    scheduler, kv = _sched(blocks=8), SimulatedKV()
    old, recent = list(range(100, 109)), list(range(200, 209))
    for seq_id, prompt in enumerate([old, recent]):
        _complete(scheduler, kv, _add(scheduler, _seq(seq_id, prompt)))
    assert scheduler.blocks.num_cached_blocks == 4 and scheduler.blocks.num_free_blocks == 4
    _complete(scheduler, kv, _add(scheduler, _seq(2, list(range(300, 321)))))  # 6 blocks: evicts 2
    assert scheduler.blocks.stats()["evictions"] == 2
    assert _first_start(scheduler, kv, _seq(3, recent)) == 8  # the recently released prompt survived
    _complete(scheduler, kv, scheduler.running[0])
    assert _first_start(scheduler, kv, _seq(4, old)) == 0  # the old one was evicted


def _first_start(scheduler: Scheduler, kv: SimulatedKV, seq: Sequence) -> int:
    """Queue ``seq`` alone and return where its first chunk starts (how many tokens the cache gave)."""
    scheduler.add(seq)
    return kv.run(scheduler).scheduled[0].start


def test_nothing_is_cached_before_its_step_has_run() -> None:
    scheduler, kv = _sched(), SimulatedKV()
    failed = _add(scheduler, _seq(0, list(range(9))))
    scheduler.schedule()  # planned, but (say) the forward pass failed: no cache_computed
    scheduler.abort(failed.request_id)
    assert scheduler.blocks.num_cached_blocks == 0 and scheduler.blocks.num_free_blocks == 32
    _add(scheduler, _seq(1, list(range(9))))
    assert kv.run(scheduler).scheduled[0].start == 0


def test_caching_off_finds_nothing() -> None:
    scheduler, kv = _sched(caching=False), SimulatedKV()
    _complete(scheduler, kv, _add(scheduler, _seq(0, list(range(9)))))
    _add(scheduler, _seq(1, list(range(9))))
    assert kv.run(scheduler).scheduled[0].start == 0
    assert scheduler.blocks.num_cached_blocks == 0 and scheduler.blocks.num_free_blocks == 32 - 3


def _random_prompt(rng: random.Random, docs: list[list[int]]) -> list[int]:
    return rng.choice(docs)[:rng.randint(1, 30)] + [rng.randrange(20) for _ in range(rng.randint(0, 6))]


def _check_blocks(scheduler: Scheduler) -> None:
    owned = {b for s in scheduler.running for b in s.block_table}
    blocks = scheduler.blocks
    assert len(owned) == blocks.num_used_blocks
    assert blocks.num_free_blocks + blocks.num_cached_blocks + len(owned) == blocks.num_blocks


def test_random_workload_reads_only_correct_blocks_and_leaks_none() -> None:
    rng, gate, kv = random.Random(3), FakeGate(), SimulatedKV()
    scheduler = _sched(blocks=20, seqs=5, tokens=12, gate=gate)
    docs = [[rng.randrange(20) for _ in range(30)] for _ in range(3)]
    loras = [None, LoRARequest("noir", "/n"), LoRARequest("noir", "/n", lora_scale=0.5), LoRARequest("legal", "/l")]
    preempted, next_id = 0, 0
    for _ in range(1500):
        if rng.random() < 0.35:
            next_id += 1
            scheduler.add(_seq(next_id, _random_prompt(rng, docs), rng.choice(loras)))
        if rng.random() < 0.04 and scheduler.has_unfinished():
            scheduler.abort(rng.choice([*scheduler.running, *scheduler.waiting]).request_id)
        if rng.random() < 0.01:
            gate.versions["noir"] = gate.versions.get("noir", 1) + 1
            scheduler.blocks.invalidate("noir")
        preempted += len(kv.run(scheduler).preempted)
        for seq in kv.sampled:
            if len(seq.output_ids) >= rng.randint(1, 12):
                seq.finish("length")
                scheduler.finish(seq)
        _check_blocks(scheduler)
    for _ in range(5000):  # drain: every step finishes what samples
        kv.run(scheduler)
        for seq in kv.sampled:
            seq.finish("length")
            scheduler.finish(seq)
    assert not scheduler.has_unfinished()
    stats, blocks = scheduler.blocks.stats(), scheduler.blocks
    assert blocks.num_used_blocks == 0 and blocks.num_free_blocks + blocks.num_cached_blocks == 20
    assert stats["hits"] > 500 and stats["evictions"] > 50 and preempted > 10, (stats, preempted)
