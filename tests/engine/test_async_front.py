"""``AsyncLLMEngine`` as the server's one way into the engine: request ids, tokenizer and context
length, adapters between steps, and the adapter pool's figures computed only when asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.async_engine import AsyncLLMEngine
from engine.lora.request import LoRARequest
from engine.sampling_params import SamplingParams
from tests.app.conftest import build_engine, make_peft_adapters

SHORT = SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("front") / "ad"
    make_peft_adapters(tiny_llama_dir, [folder], seed=3)
    return folder


@pytest.fixture()
async def front(tiny_llama_dir: Path) -> AsyncIterator[AsyncLLMEngine]:
    engine = AsyncLLMEngine(build_engine(tiny_llama_dir), max_pending=4)
    engine.start()
    yield engine
    await asyncio.to_thread(engine.shutdown)


async def run(front: AsyncLLMEngine, lora: LoRARequest | None = None) -> tuple[str, list[int]]:
    stream = await front.submit([5, 6, 7], SHORT, lora_request=lora)
    last = None
    async for output in stream:
        last = output
    return stream.request_id, last.outputs[0].token_ids


async def test_request_ids_are_made_by_the_front(front: AsyncLLMEngine) -> None:
    first, _ = await run(front)
    second, _ = await run(front)
    assert first != second and len(first) == 32


async def test_tokenizer_and_context_length_come_through_the_front(front: AsyncLLMEngine) -> None:
    assert front.max_model_len == 256
    assert front.tokenizer.encode("hi") == front._engine.tokenizer.encode("hi")


async def test_adapters_are_added_and_removed_between_steps(front: AsyncLLMEngine, adapter: Path) -> None:
    lora = LoRARequest("ad", str(adapter))
    _, base = await run(front)
    await front.add_lora(lora)
    assert front._engine.list_loras() == ["ad"]
    _, styled = await run(front, lora)
    assert styled != base
    await front.remove_lora("ad")
    assert front._engine.list_loras() == []
    with pytest.raises(ValueError, match="not registered"):
        await front.remove_lora("ad")


async def test_adapter_pool_figures_are_computed_when_scraped_not_per_step(front: AsyncLLMEngine,
                                                                          adapter: Path) -> None:
    pool_stats = front._engine.lora.stats
    calls = []
    front._engine.lora.stats = lambda: calls.append(1) or pool_stats()
    await run(front, LoRARequest("ad2", str(adapter)))
    assert calls == []  # four steps ran, none summed the adapters' bytes
    figures = await front.lora_stats()
    assert calls == [1] and figures["registered_adapters"] == 1 and figures["host_bytes"] > 0
    assert "lora_memory" not in front.stats()
