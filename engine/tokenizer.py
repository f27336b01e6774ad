"""The model's tokenizer: ``tokenizers`` for text <-> ids, jinja2 for the chat template."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer as HFTokenizer

from engine.chat_template import ChatTemplate
from engine.detokenizer import OutputDetokenizer
from engine.sampling_params import SamplingParams
from engine.token_bytes import TokenBytes

SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def _as_ids(value: Any) -> set[int]:
    if value is None:
        return set()
    return {int(v) for v in value} if isinstance(value, list) else {int(value)}


def _chat_template_source(folder: Path, tokenizer_config: dict[str, Any]) -> str | None:
    """chat_template.jinja, else tokenizer_config's "chat_template" (a string or named templates)."""
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    source = tokenizer_config.get("chat_template")
    if isinstance(source, list):
        named = {t.get("name"): t.get("template") for t in source if isinstance(t, dict)}
        source = named.get("default")
    return source


class Tokenizer:
    """Encodes, decodes, renders chat prompts, and makes per-sequence incremental detokenizers."""

    def __init__(self, backend: HFTokenizer, chat_template: ChatTemplate | None,
                 eos_token_ids: set[int], bos_token_id: int | None) -> None:
        self.backend = backend
        self.chat_template = chat_template
        self.eos_token_ids = set(eos_token_ids)
        self.bos_token_id = bos_token_id
        self.token_bytes = TokenBytes(backend)  # token id -> the bytes it stands for

    @classmethod
    def from_dir(cls, path: str | os.PathLike) -> Tokenizer:
        """Load tokenizer.json, the chat template and the special tokens from a HF model folder."""
        folder = Path(path).expanduser()
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"no tokenizer.json in {folder}")
        backend = HFTokenizer.from_file(str(tokenizer_file))
        tok_config = _read_json(folder / "tokenizer_config.json")
        config = _read_json(folder / "config.json")
        gen_config = _read_json(folder / "generation_config.json")
        specials = {k: _token_text(tok_config[k]) for k in SPECIAL_TOKEN_KEYS if tok_config.get(k)}
        source = _chat_template_source(folder, tok_config)
        template = ChatTemplate(source, specials) if source else None
        eos = _as_ids(config.get("eos_token_id")) | _as_ids(gen_config.get("eos_token_id"))
        eos_text_id = backend.token_to_id(specials["eos_token"]) if "eos_token" in specials else None
        bos = config.get("bos_token_id")
        if bos is None and "bos_token" in specials:
            bos = backend.token_to_id(specials["bos_token"])
        return cls(backend, template, eos | _as_ids(eos_text_id), bos)

    @property
    def newline_token_id(self) -> int | None:
        """The one token that encodes "\n" alone (None when the vocabulary has none)."""
        ids = self.encode("\n")
        return ids[0] if len(ids) == 1 else None

    @property
    def vocab_size(self) -> int:
        """Number of token ids the tokenizer knows, added tokens included (the model may pad more)."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``."""
        if not isinstance(text, str):
            raise ValueError(f"text to encode must be a string, got {type(text).__name__}")
        # encode_batch releases the GIL (encode holds it): a long text never stalls the other threads
        return self.backend.encode_batch([text], add_special_tokens=add_special_tokens)[0].ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids`` decoded all at once."""
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = True,
                            continue_final_message: bool = False) -> str:
        """Render a conversation of system/user/assistant messages into the model's prompt text.

        ``continue_final_message=True`` (with ``add_generation_prompt=False``) leaves the final
        assistant message open for the model to extend, as ``transformers`` does."""
        if self.chat_template is None:
            raise ValueError("this model has no chat template (chat_template.jinja or tokenizer_config.json)")
        return self.chat_template.render(messages, add_generation_prompt=add_generation_prompt,
                                         continue_final_message=continue_final_message)

    def detokenizer(self, params: SamplingParams, prompt_ids: list[int]) -> OutputDetokenizer:
        """A fresh incremental detokenizer for one output sequence of a request."""
        return OutputDetokenizer(self.backend, params, prompt_ids)
