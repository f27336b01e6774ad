"""Tokenizer tests on the embedded SmolLM2 tokenizer; transformers' AutoTokenizer is the reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from engine.model_store import resolve_model
from engine.sampling_params import SamplingParams
from engine.tokenizer import Tokenizer

pytestmark = pytest.mark.slow

TEXTS = [
    "Hello, world! Ünïcödé — naïve café.",
    "Emoji party 🎉🎊👩‍👩‍👧‍👦 and flags 🇯🇵🇫🇷!",
    "中文测试：你好，世界。日本語のテキストも。한국어 문장.",
    "mixed 😀中文 ok\n\ttabs   and  spaces 🤖",
]

CONVERSATIONS = [
    [{"role": "user", "content": "Write a short poem about GPUs"}],
    [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi!"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! 😀"},
     {"role": "user", "content": "写一首诗"}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "line one\nline two"},
     {"role": "assistant", "content": "ok"}],
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return resolve_model("smollm2-135m")


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> Tokenizer:
    return Tokenizer.from_dir(model_dir)


@pytest.fixture(scope="module")
def reference(model_dir: Path):
    return AutoTokenizer.from_pretrained(model_dir)


def test_special_tokens_and_vocab(tokenizer: Tokenizer, reference) -> None:
    assert tokenizer.eos_token_ids == {reference.eos_token_id} == {2}
    assert tokenizer.bos_token_id == reference.bos_token_id == 1
    assert tokenizer.vocab_size == len(reference) == 49152


@pytest.mark.parametrize("text", TEXTS)
def test_encode_decode_match_transformers(tokenizer: Tokenizer, reference, text: str) -> None:
    ids = tokenizer.encode(text)
    assert ids == reference.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == reference.decode(ids, skip_special_tokens=True) == text


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_chat_template_matches_transformers(tokenizer: Tokenizer, reference, messages: list[dict],
                                            add_generation_prompt: bool) -> None:
    expected = reference.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=add_generation_prompt)
    assert tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt) == expected


STRICT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] | trim + ' [/INST]' }}"
    "{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}"
)


@pytest.fixture(scope="module")
def strict_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose template lives in tokenizer_config.json and uses raise_exception and bos/eos."""
    folder = tmp_path_factory.mktemp("strict")
    shutil.copy(model_dir / "tokenizer.json", folder / "tokenizer.json")
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    config["chat_template"] = STRICT_TEMPLATE
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_template_from_tokenizer_config_matches_transformers(strict_dir: Path) -> None:
    messages = [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo"},
                {"role": "user", "content": "More"}]
    expected = AutoTokenizer.from_pretrained(strict_dir).apply_chat_template(messages, tokenize=False)
    assert Tokenizer.from_dir(strict_dir).apply_chat_template(messages) == expected


def test_template_raise_exception_becomes_value_error(strict_dir: Path) -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(ValueError, match="roles must alternate"):
        Tokenizer.from_dir(strict_dir).apply_chat_template(messages)


@pytest.mark.parametrize("messages, problem", [
    ([], "non-empty list"),
    ("hello", "non-empty list"),
    (["hello"], r"messages\[0\] must be a dict"),
    ([{"role": "tool", "content": "x"}], r"messages\[0\]\.role must be one of system, user, assistant"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": None}],
     r"messages\[1\]\.content must be a string"),
    ([{"content": "x"}], r"messages\[0\]\.role"),
])
def test_bad_messages_are_named(tokenizer: Tokenizer, messages, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        tokenizer.apply_chat_template(messages)


def test_missing_files_and_template_are_named(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        Tokenizer.from_dir(tmp_path)
    shutil.copy(model_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    with pytest.raises(ValueError, match="no chat template"):
        Tokenizer.from_dir(tmp_path).apply_chat_template([{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="must be a string"):
        Tokenizer.from_dir(tmp_path).encode(None)


def _stream(tokenizer: Tokenizer, ids: list[int], prompt_ids: list[int] | None = None,
            **params) -> tuple[list[str], str]:
    detok = tokenizer.detokenizer(SamplingParams(**params), prompt_ids or [])
    deltas = [detok.push(token)[0] for token in ids]
    deltas.append(detok.flush())
    assert "".join(deltas) == detok.text
    return deltas, detok.text


@pytest.mark.parametrize("text", TEXTS)
def test_streamed_text_equals_whole_decode(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text)
    deltas, streamed = _stream(tokenizer, ids)
    assert streamed == tokenizer.decode(ids) == text
    assert all("\ufffd" not in delta for delta in deltas)


def test_streaming_after_a_prompt_keeps_its_context(tokenizer: Tokenizer) -> None:
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Say hi"}])
    prompt_ids, output_ids = tokenizer.encode(prompt), tokenizer.encode(" Hi there 👋 你好")
    _, streamed = _stream(tokenizer, output_ids, prompt_ids)
    whole = tokenizer.decode(prompt_ids + output_ids, skip_special_tokens=False)
    assert streamed == whole[len(tokenizer.decode(prompt_ids, skip_special_tokens=False)):]


def test_special_tokens_are_skipped_or_shown(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode("Done.") + [2]
    assert _stream(tokenizer, ids)[1] == "Done."
    assert _stream(tokenizer, ids, skip_special_tokens=False)[1] == "Done.<|im_end|>"
