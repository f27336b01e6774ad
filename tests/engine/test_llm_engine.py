"""The engine end to end on tiny random models: greedy == transformers, streaming, errors, abort."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import LLM, SamplingParams
from engine.config import EngineConfig
from engine.llm_engine import LLMEngine

PROMPTS = ["Hello there, how are you today?", "ab", "The quick brown fox jumps over", "Once upon a time"]


def _engine(model_dir: Path, **config: object) -> LLMEngine:
    return LLMEngine(EngineConfig(model=str(model_dir), dtype="float32", device="cpu", **{
        "max_model_len": 128, "kv_cache_memory": 1 << 20, **config}))


def _hf_greedy(model_dir: Path, prompt_ids: list[int], n: int) -> list[int]:
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    x = torch.tensor([prompt_ids])
    out = ref.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=n, pad_token_id=0)
    return out[0, len(prompt_ids):].tolist()


def _run_all(engine: LLMEngine) -> dict[str, list]:
    """Step to the end; per request, the list of its RequestOutputs."""
    seen: dict[str, list] = {}
    while engine.has_unfinished_requests():
        for out in engine.step():
            seen.setdefault(out.request_id, []).append(out)
    return seen


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_mistral_dir"])
def test_batched_greedy_equals_transformers_generate(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(fixture)
    llm = LLM(model=str(model_dir), dtype="float32", device="cpu", max_model_len=128)
    outs = llm.generate(PROMPTS, SamplingParams(temperature=0, max_tokens=20))  # both stop at EOS
    for prompt, out in zip(PROMPTS, outs):
        assert out.prompt == prompt
        assert out.outputs[0].token_ids == _hf_greedy(model_dir, out.prompt_token_ids, 20)


def test_kv_pressure_preempts_and_still_matches(tiny_llama_dir: Path) -> None:
    params = SamplingParams(temperature=0, max_tokens=30, ignore_eos=True)
    roomy = _engine(tiny_llama_dir)
    tight = _engine(tiny_llama_dir, max_model_len=64, block_size=4, kv_cache_memory=20 * 4 * 2 * 2 * 2 * 16 * 4,
                    max_num_batched_tokens=16)
    results = []
    for engine in (roomy, tight):
        for i, prompt in enumerate(PROMPTS):
            engine.add_request(str(i), prompt, params)
        outs = _run_all(engine)
        results.append([outs[str(i)][-1].outputs[0].token_ids for i in range(len(PROMPTS))])
        assert engine.stats()["kv_blocks_used"] == 0
    assert results[0] == results[1]


def test_streamed_deltas_add_up_and_stop_strings_end_text(tiny_llama_dir: Path) -> None:
    engine = _engine(tiny_llama_dir)
    engine.add_request("free", PROMPTS[0], SamplingParams(temperature=0, max_tokens=25, ignore_eos=True))
    outs = _run_all(engine)["free"]
    full = outs[-1].outputs[0]
    assert "".join(o.outputs[0].delta_text for o in outs) == full.text
    assert sum((o.outputs[0].delta_token_ids for o in outs), []) == full.token_ids
    assert [o.finished for o in outs] == [False] * (len(outs) - 1) + [True]
    stop = full.text[5:7]
    engine.add_request("stop", PROMPTS[0], SamplingParams(temperature=0, max_tokens=25, stop=[stop], ignore_eos=True))
    stopped = _run_all(engine)["stop"][-1].outputs[0]
    assert stopped.finish_reason == "stop" and stopped.stop_reason == stop
    assert stopped.text == full.text[: full.text.index(stop)]


def test_bad_requests_raise_and_the_engine_keeps_serving(tiny_llama_dir: Path) -> None:
    engine = _engine(tiny_llama_dir, max_model_len=40)
    engine.add_request("ok", "fine", SamplingParams(temperature=0, max_tokens=5, ignore_eos=True))
    with pytest.raises(ValueError, match=r"prompt \(38 tokens\) \+ max_tokens \(5\) = 43 exceeds max_model_len 40"):
        engine.add_request("long", "x" * 38, SamplingParams(max_tokens=5))
    with pytest.raises(ValueError, match="already in use"):
        engine.add_request("ok", "again", SamplingParams())
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.add_request("ids", [1, 99999], SamplingParams())
    with pytest.raises(ValueError, match="empty"):
        engine.add_request("empty", "", SamplingParams())
    assert _run_all(engine)["ok"][-1].outputs[0].finish_reason == "length"


def test_abort_frees_everything_and_others_continue(tiny_llama_dir: Path) -> None:
    engine = _engine(tiny_llama_dir)
    params = SamplingParams(temperature=0, max_tokens=20, ignore_eos=True)
    engine.add_request("a", PROMPTS[0], params)
    engine.add_request("b", PROMPTS[2], params)
    engine.step()
    engine.step()
    stats = engine.stats()
    assert stats["num_running"] == 2 and stats["adapters"] == {"base": {"running": 2, "waiting": 0}}
    engine.abort("a")
    engine.abort("unknown")
    outs = _run_all(engine)
    assert set(outs) == {"b"} and len(outs["b"][-1].outputs[0].token_ids) == 20
    assert engine.stats()["kv_blocks_used"] == 0 and not engine.has_unfinished_requests()


def test_seeded_siblings_are_reproducible_whatever_the_batch(tiny_llama_dir: Path) -> None:
    seeded = SamplingParams(n=2, temperature=1.0, seed=42, max_tokens=12, ignore_eos=True)
    noisy = SamplingParams(temperature=1.0, max_tokens=12, ignore_eos=True)
    llm = LLM(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128)
    alone = llm.generate([{"prompt_token_ids": [5, 6, 7]}], seeded)[0]
    crowd = llm.generate([PROMPTS[0], {"prompt_token_ids": [5, 6, 7]}, PROMPTS[1]], [noisy, seeded, noisy])[1]
    assert [o.token_ids for o in alone.outputs] == [o.token_ids for o in crowd.outputs]
    assert alone.outputs[0].token_ids != alone.outputs[1].token_ids


def test_chat_applies_the_template(tiny_llama_dir: Path) -> None:
    llm = LLM(model=str(tiny_llama_dir), dtype="float32", device="cpu", max_model_len=128)
    conv = [{"role": "user", "content": "hi"}]
    out = llm.chat(conv, SamplingParams(temperature=0, max_tokens=3, ignore_eos=True))[0]
    assert out.prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert len(llm.chat([conv, conv], SamplingParams(max_tokens=2))) == 2
