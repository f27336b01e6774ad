"""Every client mistake gets OpenAI's error JSON with the right status, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def post(server, path: str, body: dict | str, headers: dict[str, str]) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{server.url}{path}", content=content,
                      headers={**headers, "content-type": "application/json"}, timeout=30)


def assert_error(resp: httpx.Response, status: int, *words: str, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word in error["message"], error["message"]
    if param is not None:
        assert error["param"] == param
    return error


def test_unknown_model_is_404(server, auth) -> None:
    error = assert_error(post(server, "/v1/chat/completions", {**CHAT, "model": "nope"}, auth), 404, "nope", "tiny")
    assert error["code"] == "model_not_found"
    assert_error(post(server, "/v1/completions", {"model": "nope", "prompt": "x"}, auth), 404, param="model")


def test_unknown_model_raises_not_found_in_the_official_client(client) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(("field", "value", "words"), [
    ("temperature", -0.5, ("temperature", "0 (greedy) or in [0.01, 2]", "-0.5")),
    ("top_p", 0.0, ("top_p", "(0, 1]")),
    ("top_p", 1.5, ("top_p", "(0, 1]")),
    ("max_tokens", 0, ("max_tokens", ">= 1")),
    ("max_completion_tokens", 0, ("max_tokens", ">= 1")),
    ("n", 50, ("n must be <= 8", "50")),
    ("lora_scale", 2.5, ("lora_scale",)),
    ("temperature", "hot", ("temperature",)),
])
def test_invalid_parameter_is_400(server, auth, field, value, words) -> None:
    assert_error(post(server, "/v1/chat/completions", {**CHAT, field: value}, auth), 400, *words)


def test_empty_messages_is_400(server, auth) -> None:
    assert_error(post(server, "/v1/chat/completions", {**CHAT, "messages": []}, auth), 400, "at least one",
                 param="messages")


def test_unknown_role_is_400(server, auth) -> None:
    body = {**CHAT, "messages": [{"role": "wizard", "content": "x"}]}
    assert_error(post(server, "/v1/chat/completions", body, auth), 400, "user", param="messages.0.role")


def test_prompt_beyond_context_is_400_with_numbers(server, auth) -> None:
    body = {"model": "tiny", "prompt": "x" * 50, "max_tokens": 250}
    assert_error(post(server, "/v1/completions", body, auth), 400, "50 tokens", "250", "256")


def test_malformed_json_and_missing_fields_are_400(server, auth) -> None:
    assert_error(post(server, "/v1/chat/completions", "{not json", auth), 400)
    assert_error(post(server, "/v1/completions", {"model": "tiny"}, auth), 400, "prompt", param="prompt")


def test_missing_api_key_is_401(server) -> None:
    error = assert_error(post(server, "/v1/chat/completions", CHAT, {}), 401, "API key")
    assert error["code"] == "invalid_api_key"
    assert_error(httpx.get(f"{server.url}/v1/models"), 401)


def test_wrong_api_key_is_401(server) -> None:
    assert_error(post(server, "/v1/chat/completions", CHAT, {"Authorization": "Bearer wrong"}), 401, "API key")


def test_adapter_management_needs_the_admin_key(server, auth, adapter_root) -> None:
    body = {"lora_name": "x", "lora_path": str(adapter_root / "a1")}
    assert_error(post(server, "/v1/load_lora_adapter", body, auth), 401, "admin key")
    assert_error(post(server, "/v1/unload_lora_adapter", {"lora_name": "a1"}, {}), 401, "admin key")


def test_adapter_path_outside_the_roots_is_400(server, admin, tmp_path: Path, adapter_root: Path) -> None:
    outside = tmp_path / "evil"
    outside.mkdir()
    link = adapter_root / "link-out"
    link.symlink_to(outside, target_is_directory=True)
    try:
        for path in (str(outside), str(adapter_root / ".." / outside.name), str(link)):
            body = {"lora_name": "evil", "lora_path": path}
            assert_error(post(server, "/v1/load_lora_adapter", body, admin), 400, "outside the adapter roots",
                         param="lora_path")
    finally:
        link.unlink()


def test_adapter_loader_errors_are_400_with_the_reason(server, admin, adapter_root: Path) -> None:
    broken = adapter_root / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 64, "lora_alpha": 8,
                                                            "target_modules": ["q_proj"]}))
    error = assert_error(post(server, "/v1/load_lora_adapter", {"lora_name": "broken", "lora_path": str(broken)},
                              admin), 400)
    assert "broken" in error["message"]
    names = [m["id"] for m in httpx.get(f"{server.url}/v1/models", headers=admin).json()["data"]]
    assert "broken" not in names


def test_adapter_name_taken_and_unknown_unload(server, admin, adapter_root: Path) -> None:
    body = {"lora_name": "a1", "lora_path": str(adapter_root / "a2")}
    assert_error(post(server, "/v1/load_lora_adapter", body, admin), 400, "already served", param="lora_name")
    assert_error(post(server, "/v1/unload_lora_adapter", {"lora_name": "ghost"}, admin), 404, "ghost")
    assert_error(post(server, "/v1/unload_lora_adapter", {"lora_name": "verse"}, admin), 400, "style")


def test_unknown_route_is_openai_shaped_404(server) -> None:
    assert_error(httpx.get(f"{server.url}/v2/nothing"), 404)


def test_prompt_token_ids_outside_the_vocabulary_are_400(server, auth) -> None:
    assert_error(post(server, "/v1/completions", {"model": "tiny", "prompt": [1, 99999]}, auth), 400,
                 "99999", "vocabulary", param="prompt")
