"""The official ``openai`` client against the live server: chat and completions, streamed and not."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import torch

GREEDY = dict(temperature=0.0, max_tokens=12)
PROMPT_IDS = [40, 72, 101, 108, 108, 111, 44, 32, 119]


def peft_greedy(model_dir: Path, adapter_dir: Path | None, prompt: list[int], steps: int) -> list[int]:
    """Independent reference: greedy tokens from transformers (+ PEFT), full forward each step."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    ids = torch.tensor([prompt])
    with torch.no_grad():
        for _ in range(steps):
            next_id = model(input_ids=ids).logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    return ids[0, len(prompt):].tolist()


def completion_ids(client, model: str, prompt: list[int], steps: int, **extra: object) -> list[int]:
    """Greedy token ids from /v1/completions (vLLM's return_tokens_as_token_ids)."""
    resp = client.completions.create(model=model, prompt=prompt, temperature=0.0, max_tokens=steps, logprobs=0,
                                     extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True, **extra})
    return [int(token.removeprefix("token_id:")) for token in resp.choices[0].logprobs.tokens]


def chat(client, model: str, content: str, **kwargs: object):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def test_chat_non_streaming(client) -> None:
    resp = chat(client, "tiny", "Hello there", **GREEDY)
    choice = resp.choices[0]
    assert resp.object == "chat.completion" and resp.model == "tiny"
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert resp.usage.completion_tokens >= 1
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert chat(client, "tiny", "Hello there", **GREEDY).choices[0].message.content == choice.message.content


def test_chat_streaming_matches_non_streaming(client) -> None:
    full = chat(client, "a1", "Stream me", **GREEDY)
    stream = chat(client, "a1", "Stream me", stream=True, stream_options={"include_usage": True}, **GREEDY)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [full.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_completions_streaming_and_not(client) -> None:
    full = client.completions.create(model="a2", prompt="Once upon", **GREEDY)
    assert full.object == "text_completion" and full.usage.prompt_tokens == len("Once upon")
    parts = list(client.completions.create(model="a2", prompt="Once upon", stream=True, **GREEDY))
    assert "".join(p.choices[0].text for p in parts) == full.choices[0].text


def test_sse_framing_ends_with_done(server, auth) -> None:
    body = {"model": "tiny", "prompt": "x", "max_tokens": 3, "stream": True}
    resp = httpx.post(f"{server.url}/v1/completions", json=body, headers=auth)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and len(events) >= 2


@pytest.mark.parametrize("adapter", [None, "a3"])
def test_greedy_tokens_match_transformers_and_peft(client, tiny_llama_dir, adapter_root, adapter) -> None:
    expected = peft_greedy(tiny_llama_dir, adapter_root / adapter if adapter else None, PROMPT_IDS, 10)
    assert completion_ids(client, adapter or "tiny", PROMPT_IDS, 10) == expected


def test_strength_zero_is_the_base_and_half_differs(client) -> None:
    base = completion_ids(client, "tiny", PROMPT_IDS, 10)
    assert completion_ids(client, "a4", PROMPT_IDS, 10, lora_scale=0.0) == base
    full = completion_ids(client, "a4", PROMPT_IDS, 10)
    assert full != base
    assert completion_ids(client, "a4", PROMPT_IDS, 10, strength=1.0) == full


def test_n_seed_and_stop(client) -> None:
    sampled = dict(temperature=1.0, max_tokens=8, seed=7, n=2)
    first = chat(client, "tiny", "seeded", **sampled)
    assert [c.index for c in first.choices] == [0, 1]
    again = chat(client, "tiny", "seeded", **sampled)
    assert [c.message.content for c in again.choices] == [c.message.content for c in first.choices]
    extra = {"ignore_eos": True}
    text = client.completions.create(model="tiny", prompt="abc", extra_body=extra, **GREEDY).choices[0].text
    assert len(text) >= 5
    stop = text[3:5]
    cut = client.completions.create(model="tiny", prompt="abc", stop=[stop], extra_body=extra, **GREEDY).choices[0]
    assert cut.text == text[: text.index(stop)] and cut.finish_reason == "stop"


def test_logprobs(client) -> None:
    resp = chat(client, "tiny", "probabilities", logprobs=True, top_logprobs=3, **GREEDY)
    content = resp.choices[0].logprobs.content
    assert len(content) == resp.usage.completion_tokens
    for entry in content:
        assert len(entry.top_logprobs) == 3 and entry.logprob <= 0.0
        assert entry.logprob == pytest.approx(max(t.logprob for t in entry.top_logprobs))  # greedy
    comp = client.completions.create(model="tiny", prompt="probabilities", logprobs=2, **GREEDY)
    lp = comp.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == comp.usage.completion_tokens


def test_models_list_and_style(client) -> None:
    cards = {m.id: m for m in client.models.list().data}
    assert {"tiny", "verse", *(f"a{i}" for i in range(10))} <= set(cards)
    assert cards["a5"].parent == "tiny" and cards["a5"].root == "a5"
    assert cards["verse"].parent == "tiny" and cards["tiny"].parent is None
    styled = chat(client, "verse", "Hi")  # style defaults: temperature 0, max_tokens 7
    explicit = client.chat.completions.create(
        model="a0", temperature=0.0, max_tokens=7,
        messages=[{"role": "system", "content": "Answer in verse."}, {"role": "user", "content": "Hi"}])
    assert styled.choices[0].message.content == explicit.choices[0].message.content
    assert styled.usage.prompt_tokens == explicit.usage.prompt_tokens


def test_metrics_and_health(server, client) -> None:
    chat(client, "a6", "count me", **GREEDY)
    text = httpx.get(f"{server.url}/metrics").text
    assert 'inkwell_requests_total{endpoint="chat",model="a6"}' in text
    assert 'inkwell_time_to_first_token_seconds_count{model="a6"}' in text
    for name in ("inkwell_inter_token_latency_seconds", "inkwell_kv_blocks_used", "inkwell_generation_tokens_total",
                 "inkwell_adapter_requests_running", "inkwell_num_requests_waiting"):
        assert name in text
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny"


def test_default_max_tokens_fill_the_context(client) -> None:
    prompt = list(range(3, 3 + 250))  # 250 of the tiny model's 256 positions
    resp = client.completions.create(model="tiny", prompt=prompt, temperature=0.0, extra_body={"ignore_eos": True})
    assert resp.usage.completion_tokens == 6 and resp.choices[0].finish_reason == "length"
    short = chat(client, "verse", "Hi").usage.prompt_tokens
    long = "H" * (2 + 252 - short)  # one token per byte: the prompt becomes 252 tokens
    styled = chat(client, "verse", long, extra_body={"ignore_eos": True})
    assert styled.usage.prompt_tokens == 252
    assert styled.usage.completion_tokens == 4  # the style's max_tokens (7) clamped to the room left
