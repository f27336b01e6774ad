"""A model's chat template rendered in a sandboxed jinja2 environment, with checked messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROLES = ("system", "user", "assistant")
# Appended to a message that must stay open, to find where its content ends in the rendered text.
_OPEN_END = "INKWELL_OPEN_END "


class ChatTemplateError(ValueError):
    """The template refused the conversation (its ``raise_exception``) or failed to render."""


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"chat template rejected the conversation: {message}")


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def check_messages(messages: list[dict]) -> None:
    """Raise ``ValueError`` naming the first message whose shape, role or content is wrong."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"messages must be a non-empty list of dicts, got {messages!r}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {message!r}")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}].content must be a string, got {type(content).__name__}")


class ChatTemplate:
    """A compiled chat template plus the special-token strings it may refer to."""

    def __init__(self, source: str, special_tokens: dict[str, str]) -> None:
        self.special_tokens = dict(special_tokens)
        try:
            self._template = _environment().from_string(source)
        except TemplateError as err:
            raise ChatTemplateError(f"chat template does not compile: {err}") from err

    def render(self, messages: list[dict], add_generation_prompt: bool = True,
               continue_final_message: bool = False) -> str:
        """The prompt text for ``messages``; ``ValueError`` when they or the template are wrong.

        ``continue_final_message`` leaves the last (assistant) message open, as Hugging Face and vLLM
        do: the text ends with that message's content, without its end-of-turn and without a new
        generation prompt, so the model extends the message instead of starting another one.
        """
        check_messages(messages)
        if not continue_final_message:
            return self._render(messages, add_generation_prompt)
        check_continuable(messages, add_generation_prompt)
        marked = [*messages[:-1], {**messages[-1], "content": messages[-1]["content"] + _OPEN_END}]
        return _cut_at_open_end(self._render(marked, add_generation_prompt=False))

    def _render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                         **self.special_tokens)
        except TemplateError as err:
            raise ChatTemplateError(f"chat template failed to render: {err}") from err


def check_continuable(messages: list[dict], add_generation_prompt: bool) -> None:
    """Raise ``ValueError`` unless the conversation's last message can be continued in place."""
    if add_generation_prompt:
        raise ValueError("continue_final_message and add_generation_prompt cannot both be true: continuing "
                         "extends the last message, a generation prompt starts a new one")
    role = messages[-1]["role"]
    if role != "assistant":
        raise ValueError(f"continue_final_message needs the last message to be the assistant's, got {role!r}")


def _cut_at_open_end(rendered: str) -> str:
    """The rendered text up to the marker; blanks before it go too when the template trimmed the content.

    A template that strips contents eats the marker's trailing space, and would have stripped the
    message's own trailing blanks too, so those are dropped to match what it renders."""
    mark = _OPEN_END.strip()
    at = rendered.rfind(mark)
    if at < 0:
        raise ChatTemplateError("continue_final_message: the chat template dropped the final message's "
                                "end, so it cannot be left open")
    if rendered.startswith(_OPEN_END, at):
        return rendered[:at]
    return rendered[:at].rstrip()
