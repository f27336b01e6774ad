"""Picks each row's next token under that row's own SamplingParams, for a whole batch at once.

Order per row: repetition / presence / frequency penalties, temperature, then (sampled rows only)
top-k, top-p, min-p, and a draw. Rows that need a step pay for it; the rest skip it.

The draw is an exponential race: ``token = argmax(p / q)`` with ``q ~ Exp(1)`` per vocabulary entry,
drawn from the row's own generator, which samples exactly from ``p``. A seeded row therefore gets the
same tokens whatever else shares its batch, and wherever it sits in it.

Logprobs (when ``params.logprobs`` is set) are ``log_softmax`` of the logits after penalties and
temperature (temperature 1 for greedy rows) and before top-k / top-p / min-p truncation, like vLLM's
processed logprobs: the chosen token's value plus the ``logprobs`` most likely alternatives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine import logits_processors as lp
from engine.outputs import TokenLogprob
from engine.sampling_params import SamplingParams


@dataclass
class SampleRow:
    """One row of the logits: its parameters, its generator (None: torch's global one) and history."""

    params: SamplingParams
    generator: torch.Generator | None
    prompt_ids: list[int]
    output_ids: list[int]


@dataclass
class SampledToken:
    """The token picked for a row, with its logprob record when the row asked for one."""

    token_id: int
    logprob: TokenLogprob | None


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator | None:
    """A generator seeded with ``seed`` on ``device`` (the logits' device), or None without a seed."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)


def _where(params: list[SamplingParams], test: Callable[[SamplingParams], bool]) -> list[int]:
    return [i for i, p in enumerate(params) if test(p)]


def _values(params: list[SamplingParams], rows: list[int], name: str, device: torch.device) -> torch.Tensor:
    return torch.tensor([float(getattr(params[i], name)) for i in rows], device=device)  # [n]


class Sampler:
    """``Sampler()(logits [B, V], rows) -> list[SampledToken]``, one per row."""

    def __call__(self, logits: torch.Tensor, rows: list[SampleRow]) -> list[SampledToken]:
        """Pick one token per row of ``logits`` (float32 [B, V]) under each row's parameters."""
        if logits.dim() != 2 or logits.shape[0] != len(rows):
            raise ValueError(f"logits must be [B, V] with B == len(rows) == {len(rows)}, "
                             f"got shape {tuple(logits.shape)}")
        params = [row.params for row in rows]
        logits = self._scale(self._penalize(logits.float(), rows), params)  # [B, V]
        tokens = logits.argmax(dim=-1)  # [B], final for greedy rows
        sampled = _where(params, lambda p: not p.greedy)
        if sampled:
            tokens[sampled] = self._draw(logits[sampled], [rows[i] for i in sampled])
        logprobs = self._logprobs(logits, tokens, params)
        return [SampledToken(t, record) for t, record in zip(tokens.tolist(), logprobs)]

    def _penalize(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        params = [row.params for row in rows]
        repeat = _where(params, lambda p: p.repetition_penalty != 1.0)
        additive = _where(params, lambda p: p.presence_penalty != 0.0 or p.frequency_penalty != 0.0)
        if not repeat and not additive:
            return logits
        logits, vocab, device = logits.clone(), logits.shape[1], logits.device
        if repeat:
            counts = lp.token_counts([rows[i].prompt_ids + rows[i].output_ids for i in repeat], vocab, device)
            penalty = _values(params, repeat, "repetition_penalty", device)
            logits[repeat] = lp.apply_repetition_penalty(logits[repeat], counts, penalty)
        if additive:
            counts = lp.token_counts([rows[i].output_ids for i in additive], vocab, device)
            presence = _values(params, additive, "presence_penalty", device)
            frequency = _values(params, additive, "frequency_penalty", device)
            logits[additive] = lp.apply_presence_frequency(logits[additive], counts, presence, frequency)
        return logits

    def _scale(self, logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
        temperatures = [1.0 if p.greedy else p.temperature for p in params]
        if all(t == 1.0 for t in temperatures):
            return logits
        return logits / torch.tensor(temperatures, device=logits.device).unsqueeze(1)

    def _draw(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        """Truncate then race: logits [n, V] of sampled rows -> token ids [n]."""
        params, device, vocab = [row.params for row in rows], logits.device, logits.shape[1]
        nucleus = _where(params, lambda p: p.top_k != -1 or p.top_p < 1.0)
        if nucleus:
            top_k = torch.tensor([min(vocab, params[i].top_k) if params[i].top_k != -1 else vocab
                                  for i in nucleus], device=device)
            top_p = _values(params, nucleus, "top_p", device)
            logits[nucleus] = lp.apply_top_k_top_p(logits[nucleus], top_k, top_p)
        floor = _where(params, lambda p: p.min_p > 0.0)
        if floor:
            logits[floor] = lp.apply_min_p(logits[floor], _values(params, floor, "min_p", device))
        race = self._exponential([row.generator for row in rows], logits.shape, device)  # [n, V]
        return (logits.softmax(dim=-1) / race).argmax(dim=-1)

    def _exponential(self, generators: list[torch.Generator | None], shape: torch.Size,
                     device: torch.device) -> torch.Tensor:
        """Exp(1) noise [n, V]; a seeded row's noise comes only from its own generator."""
        noise = torch.empty(shape, device=device)
        unseeded = [i for i, g in enumerate(generators) if g is None]
        if unseeded:
            noise[unseeded] = torch.empty(len(unseeded), shape[1], device=device).exponential_()
        for i, generator in enumerate(generators):
            if generator is not None:
                noise[i].exponential_(generator=generator)
        return noise.clamp_(min=torch.finfo(noise.dtype).tiny)  # a 0 would let a masked token win

    def _logprobs(self, logits: torch.Tensor, tokens: torch.Tensor,
                  params: list[SamplingParams]) -> list[TokenLogprob | None]:
        wanted = _where(params, lambda p: p.logprobs is not None)
        records: list[TokenLogprob | None] = [None] * len(params)
        if not wanted:
            return records
        logprobs = logits[wanted].log_softmax(dim=-1)  # [n, V]
        chosen = logprobs.gather(1, tokens[wanted].unsqueeze(1)).squeeze(1).tolist()  # [n]
        top_values, top_ids = logprobs.topk(max(params[i].logprobs for i in wanted), dim=-1)  # [n, k]
        for j, i in enumerate(wanted):
            k = params[i].logprobs
            top = dict(zip(top_ids[j, :k].tolist(), top_values[j, :k].tolist()))
            records[i] = TokenLogprob(token_id=int(tokens[i]), logprob=chosen[j], top=top)
        return records
