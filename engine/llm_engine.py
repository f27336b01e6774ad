"""The synchronous engine: ``add_request`` / ``abort`` / ``step``, one scheduled forward pass per step."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import torch

from engine.block_manager import BlockManager
from engine.config import EngineConfig
from engine.kv_cache import allocate_kv_cache, num_blocks_for, scrub_blocks
from engine.loader import load_model
from engine.lora.manager import LoRAManager, lora_manager_for
from engine.lora.request import AdapterRequest, LoRARequest
from engine.model_runner import ModelRunner
from engine.model_store import resolve_model
from engine.cpu_speedups import speed_up_cpu
from engine.outputs import CompletionOutput, RequestOutput
from engine.sampler import SampledToken, Sampler, make_generator
from engine.sampling_params import SamplingParams
from engine.scheduler import ScheduledSeq, Scheduler
from engine.sequence import Sequence, SequenceStatus
from engine.tokenizer import Tokenizer

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 300  # a failure's message, as the client sees it


@dataclass(eq=False)
class _Request:
    """A request's prompt and its ``n`` sibling sequences."""

    request_id: str
    prompt: str | None
    prompt_ids: list[int]
    seqs: list[Sequence]
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return all(s.status is SequenceStatus.FINISHED for s in self.seqs)


class LLMEngine:
    """Loads the model once and serves many requests with continuous batching over a paged KV cache."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        model_dir = resolve_model(config.model, config.models_dir)
        self.tokenizer = Tokenizer.from_dir(model_dir)
        dtype = getattr(torch, config.resolved_dtype())
        model = load_model(model_dir, dtype, config.resolved_device())
        self.max_model_len = min(config.max_model_len, model.args.max_position_embeddings)
        blocks = num_blocks_for(model.args, config.block_size, dtype, config.kv_cache_memory, self.max_model_len)
        self.kv_cache = allocate_kv_cache(model, blocks, config.block_size)
        self.lora = lora_manager_for(model, config)
        speed_up_cpu(model, config.dtype)  # after the LoRA wrappers: the fused layers bind the final modules
        self.block_manager = BlockManager(blocks, config.block_size, config.enable_prefix_caching)
        self.scheduler = Scheduler(self.block_manager, config.max_num_seqs, config.max_num_batched_tokens,
                                   gate=self.lora)
        self.runner = ModelRunner(model, config.block_size, Sampler(self.tokenizer.eos_token_ids, self.tokenizer.newline_token_id), lora=self.lora)
        self.vocab_size = model.args.vocab_size
        self._requests: dict[str, _Request] = {}
        self._seeds = random.Random(config.seed)
        self._next_seq_id = 0
        log.info("engine ready: %d KV blocks of %d tokens, max_model_len %d", blocks, config.block_size,
                 self.max_model_len)

    def add_request(self, request_id: str, prompt: str | list[int], params: SamplingParams,
                    lora_request: AdapterRequest | None = None) -> None:
        """Queue a request; invalid ones raise ``ValueError`` saying why (the engine keeps running).

        ``lora_request``: one adapter (``LoRARequest``) or a style blend (``LoRABlend``)."""
        if request_id in self._requests:
            raise ValueError(f"request id {request_id!r} is already in use")
        if not isinstance(params, SamplingParams):
            raise ValueError(f"params must be SamplingParams, got {type(params).__name__}")
        if lora_request is not None:
            self._register_all(lora_request)
        prompt_ids = self._prompt_ids(prompt)
        if len(prompt_ids) + params.max_tokens > self.max_model_len:
            raise ValueError(f"prompt ({len(prompt_ids)} tokens) + max_tokens ({params.max_tokens}) = "
                             f"{len(prompt_ids) + params.max_tokens} exceeds max_model_len {self.max_model_len}")
        seqs = [self._new_sequence(request_id, prompt_ids, params, i, lora_request) for i in range(params.n)]
        text = prompt if isinstance(prompt, str) else None
        self._requests[request_id] = _Request(request_id, text, prompt_ids, seqs, {"arrival": time.time()})
        for seq in seqs:
            self.scheduler.add(seq)

    def add_lora(self, lora_request: LoRARequest) -> None:
        """Register (or, with a new path, replace) an adapter now, between steps; ``ValueError`` if unusable."""
        self._require_lora()
        self._register(lora_request)

    def remove_lora(self, name: str) -> None:
        """Unregister an adapter; sequences already running on it finish on their slot."""
        self._require_lora().unregister(name)
        self.block_manager.invalidate(name)

    def _register_all(self, lora_request: AdapterRequest) -> None:
        """Register each adapter of a request (AdapterError, a ValueError, if one cannot be served)."""
        if not self.config.enable_lora:
            raise ValueError(f"adapter {lora_request.name!r} requested but the engine runs with enable_lora=False")
        self.lora.check_fits(lora_request)
        for part in lora_request.components:
            self._register(part)

    def _register(self, lora_request: LoRARequest) -> None:
        if self.lora.register(lora_request):  # replaced: keys/values cached with the old weights are stale
            self.block_manager.invalidate(lora_request.name)

    def list_loras(self) -> list[str]:
        """Names of the registered adapters."""
        return self.lora.registered if self.lora is not None else []

    def _require_lora(self) -> LoRAManager:
        if self.lora is None:
            raise ValueError("LoRA is disabled: start the engine with enable_lora=True")
        return self.lora

    def abort(self, request_id: str) -> None:
        """Stop a request now and free its blocks; unknown or finished ids are ignored."""
        self.scheduler.abort(request_id)
        self._requests.pop(request_id, None)

    def step(self) -> list[RequestOutput]:
        """Run one scheduled forward pass; return an output for each request that got new tokens or failed.

        A failure that some requests cause (an adapter that no longer loads, a kernel error, NaN or
        infinite logits) fails only those requests: finish reason "error", ``RequestOutput.error`` in
        words, their blocks and slots freed. The rest of the batch goes on.
        """
        plan = self.scheduler.schedule()
        failures = self.lora.take_failures() if self.lora is not None else {}
        sampled = self._run_isolated(plan.scheduled, failures) if plan.scheduled else {}
        failures.update({seq: token.error for seq, token in sampled.items() if token.error is not None})
        # only blocks whose step ran cleanly become findable (a failed row's keys/values may be NaN)
        self.scheduler.cache_computed([c for c in plan.scheduled if c.seq not in failures])
        deltas: dict[Sequence, tuple[list[int], str]] = {}
        for seq, token in sampled.items():
            self._take(seq, token, deltas, failures)
        failed = self._fail(failures)
        return [self._output(req, deltas) for req in self._progressed(deltas, failed)]

    def has_unfinished_requests(self) -> bool:
        """True while any request waits or runs."""
        return self.scheduler.has_unfinished()

    def stats(self) -> dict:
        """Queue sizes, KV block use and per-adapter running/waiting counts ("base" without adapter).

        Cheap (counts only), so the async front reads it after every step; see :meth:`lora_stats`."""
        adapters: dict[str, dict[str, int]] = {}
        for state, seqs in (("running", self.scheduler.running), ("waiting", self.scheduler.waiting)):
            for seq in seqs:
                counts = adapters.setdefault(seq.lora_name, {"running": 0, "waiting": 0})
                counts[state] += 1
        blocks = self.block_manager
        return {"num_running": len(self.scheduler.running), "num_waiting": len(self.scheduler.waiting),
                "kv_blocks_used": blocks.num_used_blocks, "kv_blocks_total": blocks.num_blocks,
                "adapters": adapters, "prefix_cache": blocks.stats()}

    def lora_stats(self) -> dict[str, int]:
        """The adapter pool's memory and load/eviction figures ({} without LoRA); read when scraped."""
        return self.lora.stats() if self.lora is not None else {}

    def _run_isolated(self, chunks: list[ScheduledSeq],
                      failures: dict[Sequence, str]) -> dict[Sequence, SampledToken]:
        """Run ``chunks``; if the step raises, run each chunk alone so that only the culprits fail.

        A rerun writes the same keys/values again. A seeded row sampled before the failure draws anew.
        """
        try:
            tokens = self.runner.run(chunks)
        except Exception as exc:  # isolated here: never fatal to the other requests
            if len(chunks) == 1:
                failures[chunks[0].seq] = f"the engine step failed: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
                return {}
            log.warning("a step of %d chunks failed (%s); running them one by one", len(chunks), exc)
            sampled: dict[Sequence, SampledToken] = {}
            for chunk in chunks:
                sampled.update(self._run_isolated([chunk], failures))
            return sampled
        return {chunk.seq: token for chunk, token in zip([c for c in chunks if c.samples], tokens)}

    def _take(self, seq: Sequence, token: SampledToken, deltas: dict[Sequence, tuple[list[int], str]],
              failures: dict[Sequence, str]) -> None:
        """Append ``token`` to ``seq`` (its delta into ``deltas``), or record why ``seq`` fails."""
        if seq in failures:  # a token error (recorded by step) or an earlier failure
            return
        try:
            deltas[seq] = self._append(seq, token)
        except Exception as exc:  # a detokenizer or stop-rule failure is this request's alone
            failures[seq] = f"the output could not be decoded: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]

    def _fail(self, failures: dict[Sequence, str]) -> list[_Request]:
        """Finish every request of ``failures`` with "error": free its blocks (scrubbed) and slots."""
        failed = []
        for seq, message in failures.items():
            req = self._requests.get(seq.request_id)
            if req is None or req.error is not None:
                continue
            log.warning("request %s failed: %s", seq.request_id, message)
            for sibling in req.seqs:
                scrub_blocks(self.kv_cache, sibling.block_table)  # no NaN left for the blocks' next owner
            for sibling in self.scheduler.abort(seq.request_id):
                sibling.finish("error")
            req.error = message
            failed.append(req)
        return failed

    def _prompt_ids(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, str):
            ids = self.tokenizer.encode(prompt)
        elif isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            bad = [t for t in prompt if not 0 <= t < self.vocab_size]
            if bad:
                raise ValueError(f"prompt token ids {bad[:5]} are outside the vocabulary [0, {self.vocab_size})")
            ids = list(prompt)
        else:
            raise ValueError(f"prompt must be a string or a list of token ids, got {type(prompt).__name__}")
        if not ids:
            raise ValueError("prompt is empty")
        return ids

    def _new_sequence(self, request_id: str, prompt_ids: list[int], params: SamplingParams, index: int,
                      lora_request: AdapterRequest | None) -> Sequence:
        seed = params.seed + index if params.seed is not None else self._seeds.getrandbits(63)
        self._next_seq_id += 1
        return Sequence(
            self._next_seq_id, request_id, prompt_ids, params, index=index, lora_request=lora_request,
            generator=make_generator(seed, self.runner.device),
            detokenizer=self.tokenizer.detokenizer(params, prompt_ids),
        )

    def _append(self, seq: Sequence, token: SampledToken) -> tuple[list[int], str]:
        """Add a sampled token, apply the stop rules, free a finished sequence; return its deltas."""
        seq.output_ids.append(token.token_id)
        if token.logprob is not None:
            seq.logprobs.append(token.logprob)
        delta = self._check_stop(seq, token.token_id)
        if seq.status is SequenceStatus.FINISHED:
            if seq.finish_reason != "stop" or not isinstance(seq.stop_reason, str):
                delta += seq.detokenizer.flush()
            self.scheduler.finish(seq)
        seq.text += delta
        return [token.token_id], delta

    def _check_stop(self, seq: Sequence, token_id: int) -> str:
        """Finish ``seq`` if ``token_id`` ends it; return the text delta the token adds."""
        params, delta = seq.params, ""
        if token_id in self.tokenizer.eos_token_ids and not params.ignore_eos:
            seq.finish("stop")
        elif token_id in params.stop_token_ids:
            seq.finish("stop", token_id)
        else:
            delta, stop = seq.detokenizer.push(token_id)
            seq.lines.feed(delta)
            if stop is not None:
                seq.finish("stop", stop)
            elif params.lines and seq.lines.done >= params.lines:
                seq.finish("stop")
        if seq.status is not SequenceStatus.FINISHED and (
                len(seq.output_ids) >= params.max_tokens or seq.num_tokens >= self.max_model_len):
            seq.finish("length")
        return delta

    def _progressed(self, deltas: dict[Sequence, tuple[list[int], str]], failed: list[_Request]) -> list[_Request]:
        """Requests touched this step, in first-seen order; finished ones are forgotten after."""
        reqs = list(dict.fromkeys([*(self._requests[seq.request_id] for seq in deltas), *failed]))
        now = time.time()
        for req in reqs:
            req.metrics.setdefault("first_token", now)
            if req.finished:
                req.metrics["finished"] = now
                del self._requests[req.request_id]
        return reqs

    def _output(self, req: _Request, deltas: dict[Sequence, tuple[list[int], str]]) -> RequestOutput:
        completions = []
        for seq in req.seqs:
            delta_ids, delta_text = deltas.get(seq, ([], ""))
            completions.append(CompletionOutput(
                index=seq.index, text=seq.text, token_ids=list(seq.output_ids), delta_text=delta_text,
                delta_token_ids=delta_ids, finish_reason=seq.finish_reason, stop_reason=seq.stop_reason,
                logprobs=list(seq.logprobs) if seq.params.logprobs is not None else None,
            ))
        return RequestOutput(req.request_id, req.prompt, req.prompt_ids, completions,
                             finished=req.finished, error=req.error, metrics=dict(req.metrics),
                             num_cached_tokens=req.seqs[0].num_cached_tokens or 0)
