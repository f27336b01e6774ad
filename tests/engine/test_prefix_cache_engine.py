"""The prefix cache end to end on a tiny random Llama with LoRA adapters: the same tokens and logprobs as
without it (fp32, greedy), across adapters and strengths, under KV pressure, and after an adapter is replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lora_testing import LORA_CONFIG, adapters

from engine import LLM, SamplingParams
from engine.lora.request import LoRARequest
from engine.outputs import RequestOutput

GREEDY = SamplingParams(temperature=0.0, max_tokens=6, ignore_eos=True, logprobs=2)


def _llm(model_dir: Path, caching: bool, **config: object) -> LLM:
    options = dict(dtype="float32", device="cpu", max_model_len=96, block_size=4, kv_cache_memory=4 << 20,
                   enable_prefix_caching=caching, **LORA_CONFIG)
    return LLM(model=str(model_dir), **{**options, **config})


def _ids(seed: int, length: int) -> list[int]:
    return torch.randint(0, 256, (length,), generator=torch.Generator().manual_seed(seed)).tolist()


def _session(llm: LLM, requests: dict[str, LoRARequest]) -> list[list[RequestOutput]]:
    """Three waves over one 30-token opening: the second continues (prompt + reply + more) or re-styles the
    first's prompts; the third sends the second again."""
    opening = _ids(1, 30)
    ad1, ad2 = requests["ad1"], requests["ad2"]
    half = LoRARequest("ad1", ad1.path, lora_scale=0.5)
    first = [(opening + _ids(2, 5), None), (opening + _ids(3, 7), ad1), (opening, ad2)]
    replies = _generate(llm, first)

    def more(i: int, extra: list[int]) -> list[int]:
        return first[i][0] + replies[i].outputs[0].token_ids + extra

    second = [(more(0, _ids(4, 9)), None), (first[1][0], ad2), (first[1][0], half), (more(1, _ids(5, 3)), ad1)]
    return [replies, _generate(llm, second), _generate(llm, second)]


def _generate(llm: LLM, wave: list[tuple[list[int], LoRARequest | None]]) -> list[RequestOutput]:
    prompts = [{"prompt_token_ids": prompt} for prompt, _ in wave]
    return llm.generate(prompts, GREEDY, lora_request=[lora for _, lora in wave])


def _assert_same(cached: list[RequestOutput], plain: list[RequestOutput]) -> None:
    for ours, theirs in zip(cached, plain):
        assert ours.outputs[0].token_ids == theirs.outputs[0].token_ids
        got = [lp.logprob for lp in ours.outputs[0].logprobs]
        want = [lp.logprob for lp in theirs.outputs[0].logprobs]
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_outputs_equal_the_uncached_engine_across_adapters_and_strengths(tiny_llama_dir: Path,
                                                                         tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    cached_llm = _llm(tiny_llama_dir, True)
    cached, plain = _session(cached_llm, requests), _session(_llm(tiny_llama_dir, False), requests)
    for ours, theirs in zip(cached, plain):
        _assert_same(ours, theirs)
    hits = [[out.num_cached_tokens for out in wave] for wave in cached]
    assert hits[0] == [0, 0, 0]
    # continuations reuse prompt + the 5 computed reply tokens (40 of base's 40, 40 of ad1's 42); ad2 only
    # shares the opening's 7 full blocks with its own earlier request; ad1 at half strength shares nothing
    assert hits[1] == [40, 28, 0, 40]
    assert hits[2] == [48, 36, 36, 44]  # all but the last partial block, and never the last prompt token
    assert all(out.num_cached_tokens == 0 for wave in plain for out in wave)
    stats = cached_llm.engine.stats()
    assert stats["kv_blocks_used"] == 0 and stats["prefix_cache"]["hits"] == sum(map(sum, hits))


def test_kv_pressure_with_the_cache_preempts_evicts_and_still_matches(tiny_llama_dir: Path, tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    tight = _llm(tiny_llama_dir, True, kv_cache_memory=36 * 4 * 2 * 2 * 2 * 16 * 4, max_num_batched_tokens=16)
    plain = _session(_llm(tiny_llama_dir, False), requests)
    for ours, theirs in zip(_session(tight, requests), plain):
        _assert_same(ours, theirs)
    stats = tight.engine.stats()
    assert stats["kv_blocks_total"] == 36 and stats["kv_blocks_used"] == 0
    assert stats["prefix_cache"]["evictions"] > 0 and stats["prefix_cache"]["hits"] > 0


def test_a_replaced_adapter_never_reuses_keys_values_of_its_old_weights(tiny_llama_dir: Path,
                                                                       tmp_path: Path) -> None:
    old = adapters(tiny_llama_dir, tmp_path / "old")["ad1"]
    new = LoRARequest("ad1", adapters(tiny_llama_dir, tmp_path / "new", b_scale=1.5)["ad1"].path)
    prompt = [{"prompt_token_ids": _ids(1, 30)}]
    llm = _llm(tiny_llama_dir, True)
    llm.generate(prompt, GREEDY, lora_request=old)
    cached_before = llm.engine.block_manager.num_cached_blocks
    llm.engine.add_lora(new)  # a new path: the weights are replaced
    assert llm.engine.block_manager.num_cached_blocks == 0 < cached_before
    replaced = llm.generate(prompt, GREEDY, lora_request=new)
    expected = _llm(tiny_llama_dir, False).generate(prompt, GREEDY, lora_request=new)
    assert replaced[0].num_cached_tokens == 0
    _assert_same(replaced, expected)
    assert llm.generate(prompt, GREEDY, lora_request=new)[0].num_cached_tokens == 28


@pytest.mark.parametrize("caching", [True, False])
def test_removing_an_adapter_drops_its_blocks(tiny_llama_dir: Path, tmp_path: Path, caching: bool) -> None:
    ad1 = adapters(tiny_llama_dir, tmp_path)["ad1"]
    llm = _llm(tiny_llama_dir, caching)
    llm.generate([{"prompt_token_ids": _ids(1, 30)}], GREEDY, lora_request=ad1)
    assert llm.engine.block_manager.num_cached_blocks == (8 if caching else 0)
    llm.engine.remove_lora("ad1")
    assert llm.engine.block_manager.num_cached_blocks == 0
