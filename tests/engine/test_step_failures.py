"""A failure inside a step fails only the requests that caused it; the rest of the batch goes on.

Each test puts one bad request (a kernel error, NaN logits, an adapter whose folder went away)
beside good ones and checks that the good ones get exactly the tokens they get alone, the bad one
ends with finish reason "error" and a message, and every block and slot is free afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.llm_engine import LLMEngine
from engine.lora.request import LoRARequest
from engine.sampling_params import SamplingParams
from tests.app.conftest import build_engine, make_peft_adapters

GREEDY = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
PROMPTS = {"g1": [5, 6, 7], "g2": [9, 10, 11, 12], "g3": [40, 41]}


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("step-adapters")
    folders = [root / f"s{i}" for i in range(2)]
    make_peft_adapters(tiny_llama_dir, folders, seed=7)
    return folders


def run(engine: LLMEngine) -> dict[str, object]:
    """Step to the end; each request's last output."""
    last = {}
    while engine.has_unfinished_requests():
        for output in engine.step():
            last[output.request_id] = output
    return last


def alone(model_dir: Path, request_id: str, lora: LoRARequest | None = None) -> list[int]:
    engine = build_engine(model_dir)
    engine.add_request(request_id, PROMPTS[request_id], GREEDY, lora)
    return run(engine)[request_id].outputs[0].token_ids


def assert_idle(engine: LLMEngine) -> None:
    stats = engine.stats()
    assert (stats["num_running"], stats["num_waiting"], stats["kv_blocks_used"]) == (0, 0, 0)
    assert engine.lora_stats()["pinned_slots"] == 0


def assert_failed(output: object, *words: str) -> None:
    assert output.finished and output.error is not None
    assert output.outputs[0].finish_reason == "error"
    for word in words:
        assert word in output.error, output.error


def add_good(engine: LLMEngine) -> None:
    for request_id, prompt in PROMPTS.items():
        engine.add_request(request_id, prompt, GREEDY)


def test_a_kernel_error_fails_only_the_request_that_caused_it(tiny_llama_dir: Path) -> None:
    engine = build_engine(tiny_llama_dir)
    real_run = engine.runner.run

    def poisoned_run(chunks):  # raises whenever the poisoned request is in the batch, like a kernel fault
        if any(chunk.seq.request_id == "poison" for chunk in chunks):
            raise RuntimeError("kernel fault")
        return real_run(chunks)

    engine.runner.run = poisoned_run
    add_good(engine)
    engine.add_request("poison", [1, 2, 3], GREEDY)
    last = run(engine)
    assert_failed(last["poison"], "kernel fault")
    for request_id in PROMPTS:
        assert last[request_id].error is None
        assert last[request_id].outputs[0].token_ids == alone(tiny_llama_dir, request_id)
    assert_idle(engine)


def test_overflowing_logits_fail_only_that_row(tiny_llama_dir: Path) -> None:
    engine = build_engine(tiny_llama_dir)
    bad = SamplingParams(temperature=1.0, max_tokens=8, ignore_eos=True)
    bad.temperature = 1e-38  # past validation, as a sampler edge would be: logits / T overflow
    add_good(engine)
    engine.add_request("bad", [1, 2, 3], bad)
    last = run(engine)
    assert_failed(last["bad"], "NaN or infinite")
    assert [last[r].outputs[0].token_ids for r in PROMPTS] == [alone(tiny_llama_dir, r) for r in PROMPTS]
    assert_idle(engine)


def test_nan_from_an_adapter_leaves_no_poison_in_the_kv_cache(tiny_llama_dir: Path, adapter_dirs: list[Path]) -> None:
    engine = build_engine(tiny_llama_dir, max_loras=1)
    bad = LoRARequest("s0", str(adapter_dirs[0]))
    engine.add_lora(bad)
    slot = engine.lora._pool.acquire("s0")
    engine.lora._pool.stacks(0, "o_proj")[1][slot].fill_(float("nan"))  # a corrupted slot: NaN outputs
    engine.lora._pool.release(slot)
    engine.add_request("nan", [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22], GREEDY, bad)
    assert_failed(run(engine)["nan"], "NaN or infinite")
    add_good(engine)  # reuse the freed blocks (block 0 included, the decode padding)
    last = run(engine)
    assert [last[r].outputs[0].token_ids for r in PROMPTS] == [alone(tiny_llama_dir, r) for r in PROMPTS]
    assert all(last[r].error is None for r in PROMPTS)
    assert_idle(engine)


def test_unloaded_adapter_whose_folder_is_deleted_fails_only_its_waiting_requests(
        tiny_llama_dir: Path, adapter_dirs: list[Path], tmp_path: Path) -> None:
    doomed = Path(shutil.copytree(adapter_dirs[1], tmp_path / "rt4"))
    engine = build_engine(tiny_llama_dir, max_loras=1)  # one slot: rt4's request waits behind s0's
    busy = LoRARequest("s0", str(adapter_dirs[0]))
    engine.add_request("holder", [5, 6, 7], GREEDY, busy)
    engine.add_request("waiter", [5, 6, 7], GREEDY, LoRARequest("rt4", str(doomed)))
    add_good(engine)
    engine.step()
    engine.remove_lora("rt4")
    shutil.rmtree(doomed)
    last = run(engine)
    assert_failed(last["waiter"], "rt4", "does not exist")
    assert str(tmp_path) not in last["waiter"].error
    assert last["holder"].outputs[0].token_ids == alone(tiny_llama_dir, "g1", busy)
    assert [last[r].outputs[0].token_ids for r in PROMPTS] == [alone(tiny_llama_dir, r) for r in PROMPTS]
    assert_idle(engine)


def test_an_evicted_adapter_whose_folder_is_deleted_fails_only_its_requests(
        tiny_llama_dir: Path, adapter_dirs: list[Path], tmp_path: Path) -> None:
    doomed = Path(shutil.copytree(adapter_dirs[1], tmp_path / "gone"))
    engine = build_engine(tiny_llama_dir, max_loras=1, max_cpu_loras=1)
    engine.add_lora(LoRARequest("gone", str(doomed)))
    engine.add_lora(LoRARequest("s0", str(adapter_dirs[0])))  # evicts "gone" from the host cache
    shutil.rmtree(doomed)
    engine.add_request("orphan", [5, 6, 7], GREEDY, LoRARequest("gone", str(doomed)))
    add_good(engine)
    last = run(engine)
    assert_failed(last["orphan"], "gone", "does not exist")
    assert [last[r].outputs[0].token_ids for r in PROMPTS] == [alone(tiny_llama_dir, r) for r in PROMPTS]
    assert_idle(engine)
