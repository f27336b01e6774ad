"""Submit a validated OpenAI request to the engine: its catalog entry, prompt, sampling params, adapter."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.blends import adapter_request
from app.catalog import CatalogEntry, UnknownModel, with_system_prompt
from app.deps import AppState
from app.errors import APIError, bad_request, from_value_error, model_not_found
from app.metrics import RequestTimer
from app.responses import ResponseBuilder
from app.schemas import ChatCompletionRequest, CompletionRequest, SamplingFields
from engine.async_engine import RequestStream
from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams
from styles.forms import form_lines

_PARAM_FIELDS = {f.name for f in dataclasses.fields(SamplingParams)}


@dataclass
class Generation:
    """One accepted request: its output stream, response shaper and latency timer."""

    stream: RequestStream
    builder: ResponseBuilder
    timer: RequestTimer
    n: int

    async def final(self) -> RequestOutput:
        """Consume the stream to the end and return the last (cumulative) output."""
        last = None
        try:
            async for output in self.stream:
                self.timer.observe(output)
                last = output
        finally:
            self.close()
        if last is None:
            raise APIError(500, "the engine returned no output")
        return last

    def close(self) -> None:
        """Release the request: aborts it in the engine if it is still running.

        The timer is closed first, so an abort is counted before the engine can report it freed.
        """
        self.timer.close()
        self.stream.close()


def resolve_model(state: AppState, name: str) -> CatalogEntry:
    """The served model called ``name``, or a 404 listing what is served."""
    try:
        return state.catalog.get(name)
    except UnknownModel:
        raise model_not_found(name, state.catalog.names()) from None


def chat_prompt(state: AppState, body: ChatCompletionRequest, model: CatalogEntry) -> str:
    """Render the conversation, with the style's system prompt first when the client sent none.

    With ``continue_final_message`` the final assistant message is left open for the model to extend."""
    messages = with_system_prompt([{"role": m.role, "content": m.text()} for m in body.messages],
                                  model.system_prompt)
    try:
        return state.engine.tokenizer.apply_chat_template(messages, add_generation_prompt=body.add_generation_prompt,
                                                   continue_final_message=body.continue_final_message)
    except ValueError as exc:
        raise bad_request(f"messages: {exc}", "messages") from None


def sampling_params(state: AppState, body: SamplingFields, model: CatalogEntry, prompt_len: int,
                    logprobs: int | None) -> SamplingParams:
    """Style defaults overlaid by the client's values; 400 naming the first bad field."""
    if body.n > state.settings.max_n:
        raise bad_request(f"n must be <= {state.settings.max_n}, got {body.n}", "n")
    values: dict[str, Any] = {k: v for k, v in model.defaults.items() if k in _PARAM_FIELDS}
    client = body.sampling_overrides()
    if "max_tokens" not in client:  # a default never overflows the context; a client's value may (400)
        room = max(1, state.engine.max_model_len - prompt_len)
        values["max_tokens"] = min(values.get("max_tokens", room), room)
    values.update(client)
    if "lines" not in client:
        values["lines"] = requested_form_lines(body)
    if logprobs is not None:
        values["logprobs"] = logprobs
    try:
        return SamplingParams(**values)
    except (TypeError, ValueError) as exc:
        raise from_value_error(ValueError(str(exc))) from None


def requested_form_lines(body: SamplingFields) -> int:
    """The line count of a verse form the chat's last user message asks for (0: none, or a continuation)."""
    if not isinstance(body, ChatCompletionRequest) or body.continue_final_message:
        return 0
    asks = [m.text() for m in body.messages if m.role == "user"]
    return form_lines(asks[-1]) if asks else 0


def prompt_ids(state: AppState, body: ChatCompletionRequest | CompletionRequest, model: CatalogEntry) -> list[int]:
    """Token ids of the request's prompt (the engine checks given ids against its vocabulary)."""
    tokenizer = state.engine.tokenizer
    if isinstance(body, ChatCompletionRequest):
        return tokenizer.encode(chat_prompt(state, body, model))
    return tokenizer.encode(body.prompt) if isinstance(body.prompt, str) else list(body.prompt)


async def start(state: AppState, body: ChatCompletionRequest | CompletionRequest, model: CatalogEntry, *,
                chat: bool) -> Generation:
    """Submit the request to the engine; every client mistake becomes a 4xx before streaming starts.

    Templating and tokenising run in a worker thread (the tokenizer releases the GIL), so a long
    prompt never stalls the event loop, /health or the other streams.
    """
    ids = await asyncio.to_thread(prompt_ids, state, body, model)
    params = sampling_params(state, body, model, len(ids), body.logprobs_k())
    lora_request = adapter_request(state.catalog, body, model)
    try:
        stream = await state.engine.submit(ids, params, lora_request=lora_request)
    except ValueError as exc:
        error = from_value_error(exc)
        if error.param == "lora_request":  # the engine names the blend by its offline argument
            error.param = "styles"
        raise error from None
    builder = ResponseBuilder(model=model.name, chat=chat, token_text=_token_text(state, body),
                              token_bytes=state.engine.tokenizer.token_bytes, request_id=stream.request_id,
                              want_logprobs=body.logprobs_k() is not None)
    timer = state.metrics.timer(model.name, "chat" if chat else "completions")
    return Generation(stream=stream, builder=builder, timer=timer, n=params.n)


def _token_text(state: AppState, body: SamplingFields) -> Callable[[int], str]:
    if body.return_tokens_as_token_ids:
        return lambda token_id: f"token_id:{token_id}"
    tokenizer = state.engine.tokenizer
    return lambda token_id: tokenizer.decode([token_id], skip_special_tokens=False)
