"""Asynchronous front of ``LLMEngine``: a background step loop feeding one asyncio queue per request.

It is the server's only way into the engine: requests (their ids are made here), aborts, adapter loads
and unloads, the tokenizer and the context length. Every call into the engine runs on the loop's own
thread, between two steps, so the engine itself never sees two threads. Outputs travel back to each
request's asyncio queue through ``loop.call_soon_threadsafe``. Torch releases the GIL inside its
kernels, so the event loop keeps serving HTTP while a step runs.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from engine.lora.request import AdapterRequest, LoRARequest
from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineBusy(RuntimeError):
    """Too many requests are already waiting; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineError(RuntimeError):
    """The engine failed while serving a request (not the client's fault)."""


class StepEngine(Protocol):
    """What the async front needs from ``LLMEngine``."""

    tokenizer: Any
    max_model_len: int

    def add_request(self, request_id: str, prompt: Any, params: SamplingParams,
                    lora_request: AdapterRequest | None = None) -> None: ...

    def abort(self, request_id: str) -> None: ...

    def step(self) -> list[RequestOutput]: ...

    def has_unfinished_requests(self) -> bool: ...

    def add_lora(self, lora_request: LoRARequest) -> None: ...

    def remove_lora(self, name: str) -> None: ...

    def stats(self) -> dict: ...

    def lora_stats(self) -> dict: ...


def new_request_id() -> str:
    """A fresh request id (the only place the server makes them)."""
    return uuid.uuid4().hex


@dataclass
class _Stream:
    """The hand-off point between the engine thread and one request's consumer."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def put(self, item: RequestOutput | BaseException) -> None:
        """Thread-safe: schedule ``item`` onto the consumer's queue."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


class RequestStream:
    """Async iterator over one request's outputs; closing it early aborts the request."""

    def __init__(self, owner: AsyncLLMEngine, request_id: str, stream: _Stream) -> None:
        self.request_id = request_id
        self._owner = owner
        self._stream = stream
        self._done = False

    def __aiter__(self) -> RequestStream:
        return self

    async def __anext__(self) -> RequestOutput:
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._stream.queue.get()
        except BaseException:  # cancelled: the client went away
            self.close()
            raise
        if isinstance(item, BaseException):
            self._finish()
            raise item
        if item.finished:
            self._finish()
        return item

    def close(self) -> None:
        """Stop listening; aborts the request (at the next step boundary) if it is still running."""
        if not self._done:
            self._finish()
            self._owner.abort_soon(self.request_id)

    def _finish(self) -> None:
        self._done = True
        self._owner.forget(self.request_id)


class AsyncLLMEngine:
    """Runs an engine's step loop on a daemon thread and serves requests to asyncio code.

    ``max_pending`` bounds the requests in flight (running plus waiting); beyond it ``submit``
    raises ``EngineBusy`` instead of queueing without limit.
    """

    def __init__(self, engine: StepEngine, *, max_pending: int, retry_after_s: float = 1.0) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self._engine = engine
        self.max_pending = max_pending
        self.retry_after_s = retry_after_s
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future | None]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._stats: dict = {}

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background step loop (idempotent)."""
        if self._thread is None:
            self._stats = self._engine.stats()
            self._thread = threading.Thread(target=self._run, name="inkwell-engine", daemon=True)
            self._thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the loop; requests still open end with an ``EngineError``."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._fail_all(EngineError("the engine is shutting down"))

    @property
    def is_running(self) -> bool:
        """True while the step loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # ---- what the engine serves --------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        """The base model's tokenizer (read-only use from any thread)."""
        return self._engine.tokenizer

    @property
    def max_model_len(self) -> int:
        """The context length the engine serves."""
        return self._engine.max_model_len

    async def add_lora(self, lora_request: LoRARequest) -> None:
        """Register (or re-point) an adapter between two steps; ``ValueError`` if it cannot be served."""
        await self.call(self._engine.add_lora, lora_request)

    async def remove_lora(self, name: str) -> None:
        """Unregister an adapter between two steps; its running sequences finish on their slot."""
        await self.call(self._engine.remove_lora, name)

    # ---- requests --------------------------------------------------------------------------------
    async def submit(self, prompt: str | list[int], params: SamplingParams, request_id: str | None = None,
                     lora_request: AdapterRequest | None = None) -> RequestStream:
        """Queue a request and return its output stream (``stream.request_id`` is a new id unless given).

        Raises ``EngineBusy`` when ``max_pending`` requests are in flight, and the engine's own
        ``ValueError`` (e.g. the prompt does not fit the context) before anything is streamed.
        """
        request_id = request_id or new_request_id()
        stream = self._register(request_id)
        try:
            await self.call(self._engine.add_request, request_id, prompt, params, lora_request)
        except BaseException:
            self.forget(request_id)
            self.abort_soon(request_id)  # cancelled while queued: the add may still run
            raise
        return RequestStream(self, request_id, stream)

    async def generate(self, prompt: str | list[int], params: SamplingParams, request_id: str | None = None,
                       lora_request: AdapterRequest | None = None) -> AsyncIterator[RequestOutput]:
        """Yield the request's outputs step by step; leaving early aborts it."""
        stream = await self.submit(prompt, params, request_id, lora_request)
        try:
            async for output in stream:
                yield output
        finally:
            stream.close()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the engine thread between two steps and return its result."""
        future: Future = Future()
        self._commands.put((lambda: fn(*args), future))
        self._wake.set()
        return await asyncio.wrap_future(future)

    def abort_soon(self, request_id: str) -> None:
        """Abort a request at the next step boundary, without waiting (safe from any thread)."""
        self._commands.put((lambda: self._engine.abort(request_id), None))
        self._wake.set()

    def forget(self, request_id: str) -> None:
        """Drop a request's stream; later outputs for it are discarded."""
        with self._lock:
            self._streams.pop(request_id, None)

    def stats(self) -> dict:
        """The engine's counters as of the last step boundary, plus ``num_streams`` open here."""
        with self._lock:
            return {**self._stats, "num_streams": len(self._streams)}

    async def lora_stats(self) -> dict:
        """The adapter pool's memory figures, computed on the engine thread at the next step boundary
        (when metrics are scraped, not after every step); {} while the loop is not running."""
        if not self.is_running:
            return {}
        return await self.call(self._engine.lora_stats)

    def _register(self, request_id: str) -> _Stream:
        with self._lock:
            if request_id in self._streams:
                raise ValueError(f"request_id {request_id!r} is already in flight")
            if len(self._streams) >= self.max_pending:
                raise EngineBusy(f"the server is at capacity ({self.max_pending} requests in flight); "
                                 f"retry in {self.retry_after_s:g} s", self.retry_after_s)
            stream = _Stream(asyncio.get_running_loop())
            self._streams[request_id] = stream
            return stream

    # ---- the engine thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._run_commands()
            if self._stopping:
                break
            if self._engine.has_unfinished_requests():
                self._step()
            else:
                self._wake.wait()
        self._run_commands()

    def _run_commands(self) -> None:
        ran = False
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                break
            ran = True
            self._run_command(fn, future)
        if ran:
            self._refresh_stats()

    @staticmethod
    def _run_command(fn: Callable[[], Any], future: Future | None) -> None:
        if future is not None and not future.set_running_or_notify_cancel():
            return
        try:
            result = fn()
        except Exception as exc:  # handed to the caller; never fatal to the loop
            if future is None:
                log.exception("engine command failed")
            else:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)

    def _step(self) -> None:
        try:
            outputs = self._engine.step()
        except Exception as exc:  # the engine isolates a request's own failures; this is the last resort
            log.exception("engine step failed; failing the requests in flight")
            self._abort_all(EngineError(f"engine step failed: {exc}"))
            return
        self._refresh_stats()  # before delivery: a consumer that sees its last output sees its slot freed
        with self._lock:
            for output in outputs:
                stream = self._streams.get(output.request_id)
                if stream is not None:
                    stream.put(output)

    def _refresh_stats(self) -> None:
        try:
            stats = self._engine.stats()
        except Exception:
            log.exception("engine stats failed")
            return
        with self._lock:
            self._stats = stats

    def _abort_all(self, error: BaseException) -> None:
        with self._lock:
            request_ids = list(self._streams)
        for request_id in request_ids:
            try:
                self._engine.abort(request_id)
            except Exception:
                log.exception("abort of %s failed", request_id)
        self._refresh_stats()  # before delivery: the counters show the aborts as soon as a client sees them
        self._fail_all(error)

    def _fail_all(self, error: BaseException) -> None:
        with self._lock:
            streams, self._streams = self._streams, {}
        for stream in streams.values():
            if not stream.loop.is_closed():
                stream.put(error)
