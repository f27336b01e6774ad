"""Multi-LoRA through the engine against PEFT: mixed-adapter logits and greedy tokens (fp32, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lora_testing import LORA_CONFIG, adapters, hf_model
from peft import PeftModel

from engine import LLM, SamplingParams
from engine.config import EngineConfig
from engine.llm_engine import LLMEngine
from engine.lora.request import LoRARequest

ROWS = ["ad1", "ad2", "__base__", "ad3", "ad1"]


def peft_model(model_dir: Path, requests: dict[str, LoRARequest]) -> PeftModel:
    model = PeftModel.from_pretrained(hf_model(model_dir), requests["ad1"].path, adapter_name="ad1")
    for name in ("ad2", "ad3"):
        model.load_adapter(requests[name].path, adapter_name=name)
    return model.eval()


def prompts(count: int, length: int, vocab: int = 256) -> list[list[int]]:  # byte ids: valid in every vocab
    gen = torch.Generator().manual_seed(7)
    return torch.randint(0, vocab, (count, length), generator=gen).tolist()


def engine_last_logits(model_dir: Path, ids: list[list[int]], loras: list[LoRARequest | None]) -> torch.Tensor:
    """Logits ``[B, V]`` of each prompt's last token from one mixed prefill step of the engine."""
    engine = LLMEngine(EngineConfig(model=str(model_dir), dtype="float32", device="cpu", max_model_len=64,
                                    kv_cache_memory=16 << 20, **LORA_CONFIG))
    for i, (prompt, lora) in enumerate(zip(ids, loras)):
        engine.add_request(f"r{i}", prompt, SamplingParams(max_tokens=1), lora)
    plan = engine.scheduler.schedule()
    assert [s.seq.request_id for s in plan.scheduled] == [f"r{i}" for i in range(len(ids))]
    return engine.runner.forward(plan.scheduled)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_mixed_batch_logits_match_peft(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model_dir = request.getfixturevalue(fixture)
    requests = adapters(model_dir, tmp_path)
    ids = prompts(len(ROWS), 6)
    loras = [requests.get(name) for name in ROWS]
    with torch.no_grad():
        expected = peft_model(model_dir, requests)(torch.tensor(ids), adapter_names=ROWS).logits[:, -1]
        base = hf_model(model_dir)(torch.tensor(ids)).logits[:, -1]
    got = engine_last_logits(model_dir, ids, loras)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert (expected - base).abs().amax(-1)[[0, 1, 3]].min() > 1e-2  # the adapters really change the output


@pytest.mark.slow
def test_smollm2_mixed_batch_logits_match_peft(embedded_model_dir: Path, tmp_path: Path) -> None:
    """On 30 layers PEFT's own fp32 logits already stray ~1e-4 from fp64 (logits ~25), so the bar is
    1e-4 relative to the logit scale and no more than 3x PEFT's own fp32 error (both against fp64)."""
    requests = adapters(embedded_model_dir, tmp_path, b_scale=0.1)
    ids = prompts(len(ROWS), 6)
    with torch.no_grad():
        model = peft_model(embedded_model_dir, requests)
        peft32 = model(torch.tensor(ids), adapter_names=ROWS).logits[:, -1].double()
        truth = model.double()(torch.tensor(ids), adapter_names=ROWS).logits[:, -1]
    got = engine_last_logits(embedded_model_dir, ids, [requests.get(name) for name in ROWS]).double()
    ours, theirs = (got - truth).abs().amax(-1), (peft32 - truth).abs().amax(-1)
    assert (ours <= 1e-4 * truth.abs().amax(-1)).all(), ours
    assert (ours <= 3 * theirs + 1e-5).all(), (ours, theirs)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_greedy_tokens_match_peft_generate(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model_dir = request.getfixturevalue(fixture)
    requests = adapters(model_dir, tmp_path, b_scale=0.25)
    ids = prompts(len(ROWS), 5)
    model = peft_model(model_dir, requests)
    model.base_model.model.generation_config.eos_token_id = None  # like ignore_eos: never stop, never mask eos
    x = torch.tensor(ids)
    expected = model.generate(input_ids=x, attention_mask=torch.ones_like(x), adapter_names=ROWS, do_sample=False,
                              max_new_tokens=32, pad_token_id=0)[:, x.shape[1]:].tolist()
    llm = LLM(str(model_dir), dtype="float32", device="cpu", max_model_len=128, kv_cache_memory=1 << 20,
              **LORA_CONFIG)
    params = SamplingParams(max_tokens=32, temperature=0.0, ignore_eos=True)
    outs = llm.generate([{"prompt_token_ids": p} for p in ids], params,
                        lora_request=[requests.get(name) for name in ROWS])
    assert [o.outputs[0].token_ids for o in outs] == expected


def test_requests_wait_for_a_slot_and_scale_zero_is_base(tiny_llama_dir: Path, tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    llm = LLM(str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128, kv_cache_memory=1 << 20,
              enable_lora=True, max_loras=1, max_lora_rank=16, max_cpu_loras=2)
    params = SamplingParams(max_tokens=4, temperature=0.0, ignore_eos=True)
    ids = [{"prompt_token_ids": p} for p in prompts(4, 5)]
    muted = LoRARequest("ad1", requests["ad1"].path, lora_scale=0.0)
    outs = llm.generate(ids, params, lora_request=[requests["ad1"], requests["ad2"], muted, None])
    base = llm.generate(ids[2:], params)
    assert [len(o.outputs[0].token_ids) for o in outs] == [4, 4, 4, 4]  # one slot, three adapters: all done
    assert outs[2].outputs[0].token_ids == base[0].outputs[0].token_ids
    assert llm.engine.lora_stats()["pinned_slots"] == 0


def test_bad_adapter_is_a_value_error(tiny_llama_dir: Path, tmp_path: Path) -> None:
    llm = LLM(str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128, kv_cache_memory=1 << 20,
              **LORA_CONFIG)
    with pytest.raises(ValueError, match="does not exist"):
        llm.generate("hi", SamplingParams(max_tokens=2), LoRARequest("ghost", str(tmp_path / "ghost")))


def test_add_remove_list_loras_between_steps(tiny_llama_dir: Path, tmp_path: Path) -> None:
    requests = adapters(tiny_llama_dir, tmp_path)
    engine = LLMEngine(EngineConfig(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128,
                                    kv_cache_memory=1 << 20, **LORA_CONFIG))
    engine.add_lora(requests["ad1"])
    engine.add_request("r", [1, 2, 3], SamplingParams(max_tokens=3, ignore_eos=True), requests["ad1"])
    engine.step()
    engine.remove_lora("ad1")  # the running sequence keeps its slot until it finishes
    assert engine.list_loras() == []
    while engine.has_unfinished_requests():
        engine.step()
    memory = engine.lora_stats()
    assert memory["pinned_slots"] == 0 and memory["slot_loads"] == 1 and memory["resident_adapters"] == 0
