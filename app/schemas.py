"""OpenAI request bodies (validated by pydantic) for the routes; responses are built in ``app.responses``."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.lora.request import MAX_BLEND, MAX_LORA_SCALE

Role = Literal["system", "developer", "user", "assistant", "tool"]


def _valid_unicode(value: str) -> str:
    """Refuse a lone UTF-16 surrogate (JSON ``"\\ud800"``): it is no character and cannot be encoded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"contains a lone UTF-16 surrogate (U+{ord(value[err.start]):04X}) at character "
                         f"{err.start}; send valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(_valid_unicode)]


class _Body(BaseModel):
    # Unknown fields are ignored, as OpenAI-compatible servers do (clients send vendor extras);
    # NaN and Infinity (which Python's JSON parser accepts) are refused in every float field.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class ContentPart(_Body):
    """One part of a multi-part message; only text parts are supported."""

    type: Literal["text"]
    text: Text


class ChatMessage(_Body):
    """One turn of a conversation."""

    role: Role
    content: Text | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StyleWeight(_Body):
    """One style of a blend (``styles``): a served style or adapter and its weight in (0, 2]."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=True)  # NaN / inf get the blend's own 400

    name: Text = Field(min_length=1)
    weight: float


def _valid_blend(styles: list[StyleWeight] | None) -> list[StyleWeight] | None:
    """1 to ``MAX_BLEND`` distinct styles, each weight finite and in (0, 2]."""
    if styles is None:
        return None
    if not 1 <= len(styles) <= MAX_BLEND:
        raise ValueError(f"a blend has 1 to {MAX_BLEND} styles, got {len(styles)}")
    for style in styles:
        if not (math.isfinite(style.weight) and 0 < style.weight <= MAX_LORA_SCALE):
            raise ValueError(f"the weight of {style.name!r} must be a finite number in (0, {MAX_LORA_SCALE:g}], "
                             f"got {style.weight}")
    names = [style.name for style in styles]
    if len(set(names)) != len(names):
        raise ValueError(f"each style may appear once in a blend, got {names}")
    return styles


Blend = Annotated[list[StyleWeight] | None, AfterValidator(_valid_blend)]


class StreamOptions(_Body):
    """``stream_options``: ask for a final usage chunk."""

    include_usage: bool = False


class SamplingFields(_Body):
    """Sampling fields both endpoints share. None means: the style's default, else the engine's."""

    model: Text
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    ignore_eos: bool | None = None  # vLLM extra: keep going past the end-of-sequence token
    stop: Text | list[Text] | None = None
    max_tokens: int | None = None
    min_tokens: int | None = None  # vLLM extra: no EOS, stop token or stop string before this many tokens
    lines: int | None = Field(default=None, description="Inkwell extra: exactly this many non-empty lines "
                              "(a verse form's; a chat request that asks to write a sonnet, haiku or limerick "
                              "gets its count unless this is sent; 0 turns that off)")
    line_width: int | None = Field(default=None, description="Inkwell extra: break a line once it holds this "
                                   "many characters and ends on punctuation, and at once past 11/6 of it (verse; "
                                   "0 turns a style's default off)")
    stream: bool = False
    stream_options: StreamOptions | None = None
    return_tokens_as_token_ids: bool = False  # vLLM extra: logprobs name tokens "token_id:<id>"
    lora_scale: float | None = Field(default=None, ge=0.0, le=2.0, description="style strength (adapter scale)")
    strength: float | None = Field(default=None, ge=0.0, le=2.0, description="alias of lora_scale")
    styles: Blend = Field(default=None, description="Inkwell extra, a style blend: up to 3 {name, weight} "
                                                   "(weights in (0, 2]); the first must be `model`")

    def effective_lora_scale(self, default: float = 1.0) -> float:
        """The requested adapter scale: ``lora_scale``, else its alias ``strength``, else the style's ``default``."""
        value = self.lora_scale if self.lora_scale is not None else self.strength
        return default if value is None else value

    def include_usage(self) -> bool:
        """True when the stream should end with a usage chunk."""
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)

    def sampling_overrides(self) -> dict[str, Any]:
        """The sampling fields the client set (to lay over the style's defaults)."""
        names = ("n", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                 "repetition_penalty", "seed", "ignore_eos", "stop", "max_tokens", "min_tokens", "lines",
                 "line_width")
        values = {name: getattr(self, name) for name in names}
        return {name: value for name, value in values.items() if value is not None}


class ChatCompletionRequest(SamplingFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage]
    max_completion_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    add_generation_prompt: bool = True  # vLLM extra: end the prompt with a new assistant turn's header
    continue_final_message: bool = False  # vLLM extra: extend the final assistant message in place

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not messages:
            raise ValueError("messages must contain at least one message")
        return messages

    @model_validator(mode="after")
    def _merge_aliases(self) -> ChatCompletionRequest:
        if self.max_completion_tokens is not None:
            self.max_tokens = self.max_completion_tokens
        return self

    @model_validator(mode="after")
    def _one_prompt_end(self) -> ChatCompletionRequest:
        if self.continue_final_message and self.add_generation_prompt:
            raise ValueError("Cannot set both `continue_final_message` and `add_generation_prompt` to True "
                             "(add_generation_prompt defaults to true: send false to continue)")
        return self

    def logprobs_k(self) -> int | None:
        """How many alternatives the engine must return (None: no logprobs)."""
        return (self.top_logprobs or 0) if self.logprobs else None


class CompletionRequest(SamplingFields):
    """``POST /v1/completions``: one prompt, as text or token ids."""

    prompt: Text | list[int] | list[Text]
    logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("prompt")
    @classmethod
    def _single_prompt(cls, prompt: str | list[int] | list[str]) -> str | list[int]:
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
            if len(prompt) != 1:
                raise ValueError(f"only one prompt per request is supported, got {len(prompt)}")
            prompt = prompt[0]
        if not prompt:
            raise ValueError("prompt must not be empty")
        return prompt

    def logprobs_k(self) -> int | None:
        """How many alternatives the engine must return (None: no logprobs)."""
        return self.logprobs


class LoadAdapterRequest(_Body):
    """``POST /v1/load_lora_adapter``."""

    lora_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    lora_path: Text = Field(min_length=1)


class UnloadAdapterRequest(_Body):
    """``POST /v1/unload_lora_adapter``."""

    lora_name: Text = Field(min_length=1)


class _StyleFields(BaseModel):
    """What an admin may set on a style (``defaults`` are SamplingParams fields, as in a manifest)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)
    system_prompt: str | None = Field(default=None, max_length=16000)
    examples: list[str] | None = Field(default=None, max_length=10)
    defaults: dict[str, Any] | None = None
    adapter: str | None = Field(default=None, description="PEFT folder under an adapter root; '' for none")
    version: str | None = Field(default=None, min_length=1, max_length=64)


class CreateStyleRequest(_StyleFields):
    """``POST /v1/styles``: ``name`` is what clients put in ``model``."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UpdateStyleRequest(_StyleFields):
    """``PATCH /v1/styles/{name}``: only the fields given change."""
