"""Picks each row's next token under that row's own SamplingParams, for a whole batch at once.

Order per row: the ``min_tokens`` (and ``lines``) ban of EOS and stop token ids, repetition / presence /
frequency penalties, no-repeat-n-gram blocking, a forced newline when the open line of a ``lines`` or
``line_width`` row is long (``LineCounter.should_wrap``; it wins over any ban, so a newline that would
repeat an n-gram still breaks the line), temperature, then (sampled rows only) top-k, top-p, min-p, and a
draw. Rows that need a step pay for it; the rest skip it.

The draw inverts the row's CDF at one uniform number taken from the row's own generator (one number
per row and step: an exponential race's V numbers per row cost more than the rest of sampling on a
CPU). A seeded row
therefore gets the same tokens whatever else shares its batch, and wherever it sits in it.

Logprobs (when ``params.logprobs`` is set) are ``log_softmax`` of the logits after penalties and
temperature (temperature 1 for greedy rows) and before top-k / top-p / min-p truncation, like vLLM's
processed logprobs: the chosen token's value plus the ``logprobs`` most likely alternatives.

A row whose processed logits hold NaN or +Inf (from the model, an adapter or an overflow), or ban
every token, gets an ``error`` instead of a token; it is sampled as if its logits were zero, so the
other rows' draws are the same as without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from engine import logits_processors as lp
from engine.lines import LineCounter
from engine.outputs import TokenLogprob
from engine.sampling_params import SamplingParams
from kernels.cpu_ext import cpu_ops


@dataclass
class SampleRow:
    """One row of the logits: its parameters, its generator (None: torch's global one) and history.

    ``lines`` counts the output's non-empty lines (for ``params.lines``).
    """

    params: SamplingParams
    generator: torch.Generator | None
    prompt_ids: list[int]
    output_ids: list[int]
    lines: LineCounter = field(default_factory=LineCounter)


@dataclass
class SampledToken:
    """The token picked for a row, with its logprob record when the row asked for one.

    ``error`` (in words) means the row could not be sampled; ``token_id`` is then meaningless.
    """

    token_id: int
    logprob: TokenLogprob | None
    error: str | None = None


NON_FINITE = "the logits became NaN or infinite (the adapter's weights or the sampling parameters overflow)"


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator | None:
    """A generator seeded with ``seed`` on ``device`` (the logits' device), or None without a seed."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)


def _where(params: list[SamplingParams], test: Callable[[SamplingParams], bool]) -> list[int]:
    return [i for i, p in enumerate(params) if test(p)]


def _values(params: list[SamplingParams], rows: list[int], name: str, device: torch.device) -> torch.Tensor:
    return torch.tensor([float(getattr(params[i], name)) for i in rows], device=device)  # [n]


def _take(tensor: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """The listed rows of ``tensor`` (the tensor itself when they are all of it)."""
    return tensor if len(rows) == tensor.shape[0] else tensor[rows]


def _update(tensor: torch.Tensor, rows: list[int], fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A new tensor: ``tensor`` with ``fn`` applied to the listed rows; ``tensor`` is left untouched."""
    if len(rows) == tensor.shape[0]:
        return fn(tensor)
    out = tensor.clone()
    out[rows] = fn(tensor[rows])
    return out


def _sampleable(logits: torch.Tensor) -> torch.Tensor:
    """[B] bool: no NaN or +Inf in the row, and some token left (banned tokens are -Inf).

    One reduction: a row's max is NaN if it holds a NaN, +Inf if it holds +Inf (and no NaN), -Inf if
    every token is banned, and finite exactly otherwise (torch's boolean ``any`` is ~50x slower here).
    """
    return logits.amax(dim=1).isfinite()


def _argmax(logits: torch.Tensor) -> torch.Tensor:
    """[B] int64: each row's first maximum; the compiled kernel on the CPU (torch's argmax costs ~1 ms a
    decode step there), torch elsewhere."""
    ops = cpu_ops() if logits.device.type == "cpu" and logits.dtype == torch.float32 else None
    if ops is None:
        return logits.argmax(dim=-1)
    picks = torch.empty(logits.shape[0], dtype=torch.long)
    ops.argmax_rows(picks, logits.contiguous())
    return picks


def _too_early(row: SampleRow) -> bool:
    """True while the row may not end: fewer than ``min_tokens`` tokens, or fewer than ``lines`` lines."""
    params = row.params
    short = bool(params.lines) and not row.lines.may_end(params.lines)
    return short or len(row.output_ids) < params.min_tokens


def _wraps(row: SampleRow) -> bool:
    """True when the row keeps its lines short (``line_width``, or ``lines`` at the default width) and its
    open line should be broken now."""
    params = row.params
    if params.line_width:
        return row.lines.should_wrap(params.line_width)
    return bool(params.lines) and row.lines.should_wrap()


class Sampler:
    """``Sampler(eos_token_ids)(logits [B, V], rows) -> list[SampledToken]``, one per row.

    ``eos_token_ids`` are the tokens a row's ``min_tokens`` holds back (with its ``stop_token_ids``);
    ``newline_token_id`` is the token that breaks a long line of a ``lines`` or ``line_width`` row (None:
    never forced).
    """

    def __init__(self, eos_token_ids: Iterable[int] = (), newline_token_id: int | None = None) -> None:
        self.eos_token_ids = frozenset(eos_token_ids)
        self.newline_token_id = newline_token_id

    def __call__(self, logits: torch.Tensor, rows: list[SampleRow]) -> list[SampledToken]:
        """Pick one token per row of ``logits`` (float32 [B, V]) under each row's parameters."""
        if logits.dim() != 2 or logits.shape[0] != len(rows):
            raise ValueError(f"logits must be [B, V] with B == len(rows) == {len(rows)}, "
                             f"got shape {tuple(logits.shape)}")
        params = [row.params for row in rows]
        logits = self._penalize(self._hold_stops(logits.float(), rows), rows)  # [B, V]
        logits = self._scale(self._wrap(self._block_ngrams(logits, rows), rows), params)
        finite = _sampleable(logits)  # [B]
        if not bool(finite.all()):
            logits = torch.where(finite.unsqueeze(1), logits, torch.zeros_like(logits))
        tokens = torch.empty(len(rows), dtype=torch.long, device=logits.device)  # [B]
        greedy, sampled = _where(params, lambda p: p.greedy), _where(params, lambda p: not p.greedy)
        if greedy:
            tokens[greedy] = _argmax(_take(logits, greedy))
        if sampled:
            tokens[sampled] = self._draw(_take(logits, sampled), [rows[i] for i in sampled])
        logprobs = self._logprobs(logits, tokens, params)
        return [SampledToken(t, record, None if ok else NON_FINITE)
                for t, record, ok in zip(tokens.tolist(), logprobs, finite.tolist())]

    def _hold_stops(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        """Ban EOS and stop token ids in rows below ``min_tokens`` tokens or short of ``lines`` lines."""
        banned = {i: self._stop_ids(row.params, logits.shape[1]) for i, row in enumerate(rows) if _too_early(row)}
        early = [i for i, ids in banned.items() if ids]
        if not early:
            return logits
        return _update(logits, early, lambda x: lp.apply_banned_tokens(x, [banned[i] for i in early]))

    def _wrap(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        """Force the newline token in ``lines`` and ``line_width`` rows whose open line should be broken."""
        newline = self.newline_token_id
        if newline is None or not 0 <= newline < logits.shape[1]:
            return logits
        wrap = [i for i, row in enumerate(rows) if _wraps(row)]
        if not wrap:
            return logits
        return _update(logits, wrap, lambda x: lp.force_token(x, newline))

    def _stop_ids(self, params: SamplingParams, vocab: int) -> list[int]:
        ids = set(params.stop_token_ids) | (set() if params.ignore_eos else self.eos_token_ids)
        return sorted(t for t in ids if 0 <= t < vocab)

    def _penalize(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        params = [row.params for row in rows]
        repeat = _where(params, lambda p: p.repetition_penalty != 1.0)
        additive = _where(params, lambda p: p.presence_penalty != 0.0 or p.frequency_penalty != 0.0)
        if not repeat and not additive:
            return logits
        device = logits.device
        if repeat:
            history = [rows[i].prompt_ids + rows[i].output_ids for i in repeat]
            penalty = _values(params, repeat, "repetition_penalty", device)
            logits = _update(logits, repeat, lambda x: lp.apply_repetition_penalty(x, history, penalty))
        if additive:
            outputs = [rows[i].output_ids for i in additive]
            presence = _values(params, additive, "presence_penalty", device)
            frequency = _values(params, additive, "frequency_penalty", device)
            logits = _update(logits, additive,
                             lambda x: lp.apply_presence_frequency(x, outputs, presence, frequency))
        return logits

    def _block_ngrams(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        blocked = [i for i, row in enumerate(rows) if row.params.no_repeat_ngram_size > 0]
        if not blocked:
            return logits
        outputs = [rows[i].output_ids for i in blocked]
        sizes = [rows[i].params.no_repeat_ngram_size for i in blocked]
        return _update(logits, blocked, lambda x: lp.apply_no_repeat_ngram(x, outputs, sizes))

    def _scale(self, logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
        temperatures = [1.0 if p.greedy else p.temperature for p in params]
        if all(t == 1.0 for t in temperatures):
            return logits
        return logits / torch.tensor(temperatures, device=logits.device).unsqueeze(1)

    def _draw(self, logits: torch.Tensor, rows: list[SampleRow]) -> torch.Tensor:
        """Truncate then draw: logits [n, V] of sampled rows -> token ids [n]."""
        params, device, vocab = [row.params for row in rows], logits.device, logits.shape[1]
        nucleus = _where(params, lambda p: p.top_k != -1 or p.top_p < 1.0)
        if nucleus:
            top_k = torch.tensor([min(vocab, params[i].top_k) if params[i].top_k != -1 else vocab
                                  for i in nucleus], device=device)
            top_p = _values(params, nucleus, "top_p", device)
            logits = _update(logits, nucleus, lambda x: lp.apply_top_k_top_p(x, top_k, top_p))
        floor = _where(params, lambda p: p.min_p > 0.0)
        if floor:
            min_p = _values(params, floor, "min_p", device)
            logits = _update(logits, floor, lambda x: lp.apply_min_p(x, min_p))
        return self._invert_cdf(logits.softmax(dim=-1), [row.generator for row in rows])

    def _invert_cdf(self, probs: torch.Tensor, generators: list[torch.Generator | None]) -> torch.Tensor:
        """Token ids [n] drawn from probs [n, V] with one uniform per row from that row's generator."""
        cdf = probs.cumsum(dim=-1)  # [n, V], flat over zero-probability tokens, so they are never hit
        total = cdf[:, -1:]  # [n, 1]
        point = self._uniform(generators, probs.device).unsqueeze(1) * total  # [n, 1]
        point = torch.minimum(point, torch.nextafter(total, torch.zeros_like(total)))  # stay below total
        return torch.searchsorted(cdf, point, right=True).squeeze(1)

    def _uniform(self, generators: list[torch.Generator | None], device: torch.device) -> torch.Tensor:
        """U[0, 1) [n]; a seeded row's value comes only from its own generator."""
        uniform = torch.empty(len(generators), device=device)
        unseeded = [i for i, g in enumerate(generators) if g is None]
        if unseeded:
            uniform[unseeded] = torch.rand(len(unseeded), device=device)
        for i, generator in enumerate(generators):
            if generator is not None:
                uniform[i] = torch.rand(1, generator=generator, device=device)[0]
        return uniform

    def _logprobs(self, logits: torch.Tensor, tokens: torch.Tensor,
                  params: list[SamplingParams]) -> list[TokenLogprob | None]:
        wanted = _where(params, lambda p: p.logprobs is not None)
        records: list[TokenLogprob | None] = [None] * len(params)
        if not wanted:
            return records
        logprobs = _take(logits, wanted).log_softmax(dim=-1)  # [n, V]
        chosen_ids = tokens[wanted]  # [n]
        chosen = logprobs.gather(1, chosen_ids.unsqueeze(1)).squeeze(1).tolist()  # [n]
        top_values, top_ids = logprobs.topk(max(params[i].logprobs for i in wanted), dim=-1)  # [n, k]
        for j, (i, token_id) in enumerate(zip(wanted, chosen_ids.tolist())):
            k = params[i].logprobs
            top = dict(zip(top_ids[j, :k].tolist(), top_values[j, :k].tolist()))
            records[i] = TokenLogprob(token_id=token_id, logprob=chosen[j], top=top)
        return records
