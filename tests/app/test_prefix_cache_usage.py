"""The prefix cache and ``min_tokens`` through the API: ``usage.prompt_tokens_details.cached_tokens`` on both
endpoints, streamed and not, the hit-rate metrics, and ``min_tokens`` validated and honoured."""

from __future__ import annotations

import httpx
import pytest

BLOCK = 16  # the engine's default block size
PIECE = "The lighthouse keeper counted ships each night and wrote their names in a ledger. " * 2


def _reusable(prompt_tokens: int) -> int:
    """What a second identical prompt finds cached: its full blocks, never its last token."""
    return (prompt_tokens - 1) // BLOCK * BLOCK


def _chat(client, content: str, **kwargs: object):
    return client.chat.completions.create(model="a3", messages=[{"role": "user", "content": content}],
                                          temperature=0.0, max_tokens=3, **kwargs)


def test_chat_reports_cached_tokens_streamed_and_not(client) -> None:
    first = _chat(client, "Chat: " + PIECE)
    again = _chat(client, "Chat: " + PIECE)
    assert first.usage.prompt_tokens_details.cached_tokens <= BLOCK  # at most the chat template's opening
    assert again.usage.prompt_tokens_details.cached_tokens == _reusable(again.usage.prompt_tokens) > BLOCK
    chunks = list(_chat(client, "Chat: " + PIECE, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == _reusable(again.usage.prompt_tokens)


def test_completions_report_cached_tokens_streamed_and_not(client) -> None:
    def complete(**kwargs: object):
        return client.completions.create(model="a4", prompt="Text: " + PIECE, temperature=0.0, max_tokens=3,
                                         **kwargs)

    first, again = complete(), complete()
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert again.usage.prompt_tokens_details.cached_tokens == _reusable(again.usage.prompt_tokens)
    chunks = list(complete(stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == _reusable(again.usage.prompt_tokens)


def test_metrics_report_the_prefix_cache_hit_rate(server, client) -> None:
    _chat(client, "Metrics: " + PIECE)
    _chat(client, "Metrics: " + PIECE)
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line.startswith("inkwell_prefix_cache")}
    assert values["inkwell_prefix_cache_hits_total"] > BLOCK
    assert values["inkwell_prefix_cache_queries_total"] > values["inkwell_prefix_cache_hits_total"]
    assert 0 < values["inkwell_prefix_cache_hit_rate"] < 1


@pytest.mark.parametrize("endpoint, body", [
    ("chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("completions", {"prompt": "hi"}),
])
@pytest.mark.parametrize("min_tokens", [-1, 5])
def test_min_tokens_outside_zero_to_max_tokens_is_400(server, auth, endpoint: str, body: dict,
                                                      min_tokens: int) -> None:
    resp = httpx.post(f"{server.url}/v1/{endpoint}", headers=auth, timeout=30,
                      json={"model": "tiny", "max_tokens": 4, "min_tokens": min_tokens, **body})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["param"] == "min_tokens" and "max_tokens=4" in error["message"]


def test_min_tokens_holds_off_a_stop_string(client) -> None:
    def complete(**extra: object):
        return client.completions.create(model="tiny", prompt="Once upon", temperature=0.0, max_tokens=6,
                                         extra_body={"ignore_eos": True, **extra})

    text = complete().choices[0].text
    assert text, "the greedy reply must show some text to stop on"
    stopped, held = complete(stop=[text[0]]), complete(stop=[text[0]], min_tokens=6)
    assert stopped.choices[0].text == "" and stopped.choices[0].finish_reason == "stop"
    assert held.usage.completion_tokens == 6 and held.choices[0].finish_reason == "length"
