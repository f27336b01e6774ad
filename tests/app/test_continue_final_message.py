"""Continue (vLLM's ``continue_final_message``): the final assistant message is extended in place.

Tokenizer level: the rendered prompt equals transformers' ``apply_chat_template(...,
continue_final_message=True)``. Server level: a greedy Continue equals the greedy completion of the
same conversation written out by hand as a raw ChatML prompt.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from transformers import AutoTokenizer

from engine.model_store import resolve_model
from engine.tokenizer import Tokenizer
from tests.conftest import write_tiny_tokenizer

CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}
CONVERSATIONS = [
    [{"role": "user", "content": "Tell a tale"}, {"role": "assistant", "content": "Once upon a"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Poem?"},
     {"role": "assistant", "content": "Roses are red,\n"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! 😀"},
     {"role": "user", "content": "More"}, {"role": "assistant", "content": "The sea is "}],
    [{"role": "user", "content": "Start"}, {"role": "assistant", "content": ""}],
]
# A template that trims contents: the continued text loses its trailing blanks, as in transformers.
TRIMMING = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def assert_renders_like_transformers(folder: Path, messages: list[dict]) -> None:
    expected = AutoTokenizer.from_pretrained(folder).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=False, continue_final_message=True)
    assert Tokenizer.from_dir(folder).apply_chat_template(messages, **CONTINUE) == expected


@pytest.mark.slow
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_smollm2_continue_matches_transformers(messages: list[dict]) -> None:
    folder = resolve_model("smollm2-135m")
    assert_renders_like_transformers(folder, messages)
    rendered = Tokenizer.from_dir(folder).apply_chat_template(messages, **CONTINUE)
    assert rendered.endswith("<|im_start|>assistant\n" + messages[-1]["content"])


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_trimming_template_continue_matches_transformers(tmp_path: Path, messages: list[dict]) -> None:
    write_tiny_tokenizer(tmp_path)
    (tmp_path / "chat_template.jinja").write_text(TRIMMING)
    assert_renders_like_transformers(tmp_path, messages)


def test_continue_refuses_a_generation_prompt_or_a_final_user_message(tiny_llama_dir: Path) -> None:
    tokenizer = Tokenizer.from_dir(tiny_llama_dir)
    with pytest.raises(ValueError, match="cannot both be true"):
        tokenizer.apply_chat_template(CONVERSATIONS[0], add_generation_prompt=True, continue_final_message=True)
    with pytest.raises(ValueError, match="last message to be the assistant's, got 'user'"):
        tokenizer.apply_chat_template(CONVERSATIONS[0][:1], **CONTINUE)


def chatml(messages: list[dict]) -> str:
    """The conversation in ChatML written out by hand, the final message left open."""
    closed = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages[:-1])
    return closed + f"<|im_start|>{messages[-1]['role']}\n{messages[-1]['content']}"


@pytest.mark.parametrize(("model", "system"), [("tiny", None), ("verse", "Answer in verse.")])
def test_greedy_continue_equals_the_raw_prompt_completion(server, auth, client, model: str,
                                                           system: str | None) -> None:
    messages = [{"role": "user", "content": "Tell a tale"}, {"role": "assistant", "content": "Once upon"}]
    sampling = {"temperature": 0.0, "max_tokens": 12, "ignore_eos": True}
    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True,
                                                 stream_options={"include_usage": True},
                                                 extra_body={**CONTINUE, **sampling}))
    continued = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    written = chatml(([{"role": "system", "content": system}] if system else []) + messages)
    raw = httpx.post(f"{server.url}/v1/completions", headers=auth, timeout=60,
                     json={"model": model, "prompt": written, **sampling}).json()
    assert continued == raw["choices"][0]["text"] and len(continued) > 0
    assert chunks[-1].usage.prompt_tokens == raw["usage"]["prompt_tokens"]


@pytest.mark.parametrize(("body", "words", "param"), [
    ({**CONTINUE, "add_generation_prompt": True}, "Cannot set both", None),
    ({"continue_final_message": True}, "Cannot set both", None),
    ({**CONTINUE, "messages": [{"role": "user", "content": "hi"}]}, "assistant's, got 'user'", "messages"),
])
def test_bad_continue_requests_are_400(server, auth, body: dict, words: str, param: str | None) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}]
    resp = httpx.post(f"{server.url}/v1/chat/completions", headers=auth, timeout=30,
                      json={"model": "tiny", "messages": messages, "max_tokens": 4, **body})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert words in error["message"] and error["param"] == param
