"""``AsyncLLMEngine`` over the real engine: failures stay per request, capacity, early exit aborts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.async_engine import AsyncLLMEngine, EngineBusy, EngineError
from engine.sampling_params import SamplingParams
from tests.app.conftest import build_engine

LONG = SamplingParams(temperature=0.0, max_tokens=200, ignore_eos=True)
SHORT = SamplingParams(temperature=0.0, max_tokens=5, ignore_eos=True)


@pytest.fixture()
async def front(tiny_llama_dir: Path) -> AsyncIterator[AsyncLLMEngine]:
    engine = AsyncLLMEngine(build_engine(tiny_llama_dir, enable_lora=False), max_pending=2)
    engine.start()
    yield engine
    await asyncio.to_thread(engine.shutdown)


async def collect(front: AsyncLLMEngine, request_id: str, params: SamplingParams) -> list[int]:
    last = None
    async for output in front.generate([5, 6, 7], params, request_id):
        last = output
    return last.outputs[0].token_ids


async def test_outputs_match_the_synchronous_engine(front: AsyncLLMEngine, tiny_llama_dir: Path) -> None:
    sync = build_engine(tiny_llama_dir, enable_lora=False)
    sync.add_request("r", [5, 6, 7], SHORT)
    expected = []
    while sync.has_unfinished_requests():
        expected = [o.outputs[0].token_ids for o in sync.step()][-1]
    assert await collect(front, "r", SHORT) == expected


async def test_a_failed_step_fails_its_requests_but_not_the_loop(front: AsyncLLMEngine) -> None:
    real_step = front._engine.step
    calls = 0

    def flaky_step():  # the second step blows up once
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom")
        return real_step()

    front._engine.step = flaky_step
    with pytest.raises(EngineError, match="boom"):
        await collect(front, "doomed", LONG)
    assert front.is_running
    assert len(await collect(front, "fine", SHORT)) == 5
    assert front.stats()["num_running"] == 0


async def test_bad_request_raises_before_streaming_and_frees_its_place(front: AsyncLLMEngine) -> None:
    with pytest.raises(ValueError, match="exceeds max_model_len"):
        await front.submit([1] * 100, SamplingParams(max_tokens=250), "too-long")
    assert front.stats()["num_streams"] == 0


async def test_capacity_raises_engine_busy(front: AsyncLLMEngine) -> None:
    first = await front.submit([1, 2], LONG, "one")
    second = await front.submit([1, 2], LONG, "two")
    with pytest.raises(EngineBusy) as busy:
        await front.submit([1, 2], LONG, "three")
    assert busy.value.retry_after > 0
    first.close()
    second.close()
    assert len(await collect(front, "after", SHORT)) == 5


async def test_leaving_early_aborts_within_a_step(front: AsyncLLMEngine) -> None:
    async for output in front.generate([5, 6, 7], LONG, "leaver"):
        if len(output.outputs[0].token_ids) >= 3:
            break
    for _ in range(100):
        stats = front.stats()
        if stats["num_running"] == stats["kv_blocks_used"] == 0:
            break
        await asyncio.sleep(0.01)
    assert (stats["num_running"], stats["num_waiting"], stats["kv_blocks_used"], stats["num_streams"]) == (0, 0, 0, 0)
