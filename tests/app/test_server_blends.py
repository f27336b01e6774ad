"""Style blends over HTTP: ``"styles": [{"name", "weight"}, ...]`` on both endpoints, and every mistake a
400 in OpenAI's error JSON with ``param`` "styles"."""

from __future__ import annotations

import json

import httpx
import pytest

PROMPT = {"model": "a1", "prompt": "Once upon a time", "max_tokens": 3, "temperature": 0.0, "logprobs": 0}
BLEND = [{"name": "a1", "weight": 0.7}, {"name": "a2", "weight": 0.3}]


def post(server, path: str, body: dict, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", content=json.dumps(body),  # json.dumps writes NaN / Infinity as is
                      headers={**headers, "content-type": "application/json"}, timeout=60)


def logprobs(server, auth, **fields: object) -> list[float]:
    resp = post(server, "/v1/completions", {**PROMPT, **fields}, auth)
    assert resp.status_code == 200, resp.text
    return resp.json()["choices"][0]["logprobs"]["token_logprobs"]


def test_a_blend_runs_on_both_endpoints_and_changes_the_output(server, auth) -> None:
    single, blend = logprobs(server, auth), logprobs(server, auth, styles=BLEND)
    assert len(blend) == 3 and blend != single
    assert logprobs(server, auth, styles=BLEND) == blend  # deterministic (greedy, fp32)
    chat = {"model": "verse", "messages": [{"role": "user", "content": "Sea"}], "max_tokens": 3,
            "styles": [{"name": "verse", "weight": 1.0}, {"name": "a3", "weight": 0.5}]}
    resp = post(server, "/v1/chat/completions", chat, auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"]["completion_tokens"] == 3
    assert server.wait_idle()["num_running"] == 0


def test_one_style_is_the_model_at_that_strength(server, auth) -> None:
    assert logprobs(server, auth, styles=[{"name": "a1", "weight": 0.5}]) == logprobs(server, auth, lora_scale=0.5)


@pytest.mark.parametrize(("styles", "words"), [
    ([{"name": "a1", "weight": 0.5}, {"name": "ghost", "weight": 0.5}], ("unknown style 'ghost'", "a0")),
    ([{"name": "a1", "weight": 0.5}, *({"name": f"a{i}", "weight": 0.1} for i in (2, 3, 4))], ("1 to 3", "got 4")),
    ([], ("1 to 3", "got 0")),
    ([{"name": "a1", "weight": 0.5}, {"name": "a2", "weight": 0.0}], ("'a2'", "(0, 2]")),
    ([{"name": "a1", "weight": 2.5}], ("'a1'", "(0, 2]", "2.5")),
    ([{"name": "a1", "weight": -1}], ("(0, 2]",)),
    ([{"name": "a1", "weight": float("nan")}], ("finite", "nan")),
    ([{"name": "a1", "weight": float("inf")}], ("finite", "inf")),
    ([{"name": "a1", "weight": 0.5}, {"name": "a1", "weight": 0.5}], ("once", "'a1', 'a1'")),
    ([{"name": "a2", "weight": 0.5}, {"name": "a1", "weight": 0.5}], ("first style", "'a1'", "'a2'")),
    ([{"name": "a1", "weight": 0.5}, {"name": "tiny", "weight": 0.5}], ("'tiny' has no adapter",)),
])
@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_bad_blends_are_400_on_styles(server, auth, path: str, styles: list, words: tuple[str, ...]) -> None:
    body = ({**PROMPT, "styles": styles} if path == "/v1/completions" else
            {"model": "a1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "styles": styles})
    resp = post(server, path, body, auth)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["param"], error["type"]) == ("styles", "invalid_request_error")
    assert error["message"].startswith("styles: ")
    for word in words:
        assert word in error["message"], error["message"]


def test_lora_scale_beside_styles_is_400(server, auth) -> None:
    resp = post(server, "/v1/completions", {**PROMPT, "styles": BLEND, "strength": 0.5}, auth)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "styles"
    assert "not lora_scale / strength" in resp.json()["error"]["message"]


def test_a_blend_larger_than_max_loras_is_400(serve, adapter_root) -> None:
    modules = [{"name": f"a{i}", "path": str(adapter_root / f"a{i}")} for i in range(3)]
    with serve(dict(adapter_roots=[adapter_root], lora_modules=modules), dict(max_loras=2)) as live:
        styles = [{"name": name, "weight": 0.5} for name in ("a1", "a2", "a0")]
        resp = post(live, "/v1/completions", {**PROMPT, "styles": styles}, {})
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["param"] == "styles" and "max_loras=2" in error["message"]
        assert post(live, "/v1/completions", {**PROMPT, "styles": styles[:2]}, {}).status_code == 200
