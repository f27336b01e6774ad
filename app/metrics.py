"""Prometheus metrics: request and token counters by model, latency histograms, engine gauges."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.outputs import RequestOutput

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# engine stats key -> (metric name, help)
_ENGINE_GAUGES = {
    "kv_blocks_used": ("inkwell_kv_blocks_used", "KV-cache blocks in use"),
    "kv_blocks_total": ("inkwell_kv_blocks_total", "KV-cache blocks available in all"),
    "num_running": ("inkwell_num_requests_running", "Sequences running"),
    "num_waiting": ("inkwell_num_requests_waiting", "Sequences waiting to be scheduled"),
}
_PER_ADAPTER = {
    "running": ("inkwell_adapter_requests_running", "Sequences running, by adapter"),
    "waiting": ("inkwell_adapter_requests_waiting", "Sequences waiting, by adapter"),
}
_COUNTER_SUFFIXES = ("loads", "evictions")  # adapter-pool figures that only grow
FinishedHook = Callable[[str, int, int], None]  # (model, prompt tokens, completion tokens)
_PREFIX_COUNTERS = {
    "queries": "Prompt tokens looked up in the prefix cache at admission",
    "hits": "Prompt tokens found in the prefix cache (not computed again)",
    "evictions": "Cached KV blocks evicted to make room",
}


class EngineStatsCollector(Collector):
    """Reads the engine's latest counters at scrape time (see ``LLMEngine.stats``), and the adapter
    pool's figures (``LLMEngine.lora_stats``) handed over by the scrape itself."""

    def __init__(self, stats: Callable[[], dict]) -> None:
        self._stats = stats
        self.lora_stats: dict[str, Any] = {}

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges and counters the engine reports; absent keys are skipped."""
        stats = self._stats()
        for key, (name, text) in _ENGINE_GAUGES.items():
            if key in stats:
                yield GaugeMetricFamily(name, text, value=stats[key])
        yield from _pool_metrics(self.lora_stats)
        yield from _prefix_cache_metrics(stats.get("prefix_cache"))
        adapters = stats.get("adapters", {})
        for key, (name, text) in _PER_ADAPTER.items():
            family = GaugeMetricFamily(name, text, labels=["adapter"])
            for adapter, counts in adapters.items():
                family.add_metric([str(adapter)], counts.get(key, 0))
            yield family


def _pool_metrics(pool: dict[str, float]) -> Iterator[Metric]:
    """The adapter pool's figures: ``*_loads``/``*_evictions`` as counters, the rest as gauges."""
    for key, value in pool.items():
        if key.endswith(_COUNTER_SUFFIXES):
            yield CounterMetricFamily(f"inkwell_adapter_{key}", f"Adapter pool {key.replace('_', ' ')}", value=value)
        else:
            yield GaugeMetricFamily(f"inkwell_lora_{key}", f"Adapter pool {key.replace('_', ' ')}", value=value)


def _prefix_cache_metrics(cache: dict[str, int] | None) -> Iterator[Metric]:
    """Token counters of the prefix cache, its hit rate since start and its unreferenced cached blocks."""
    if cache is None:
        return
    for key, text in _PREFIX_COUNTERS.items():
        yield CounterMetricFamily(f"inkwell_prefix_cache_{key}", text, value=cache[key])
    rate = cache["hits"] / cache["queries"] if cache["queries"] else 0.0
    yield GaugeMetricFamily("inkwell_prefix_cache_hit_rate", "Prompt tokens hit / looked up, since start",
                            value=rate)
    yield GaugeMetricFamily("inkwell_kv_blocks_cached", "Unreferenced KV blocks kept for prefix reuse",
                            value=cache["cached_blocks"])


class ServerMetrics:
    """All metrics of one app, in their own registry (several apps can live in one process)."""

    def __init__(self, engine_stats: Callable[[], dict], on_finished: FinishedHook | None = None) -> None:
        self.on_finished = on_finished  # told of every request that ran to its end (style usage)
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter("inkwell_requests", "Requests accepted, by model (style) and endpoint",
                                ["model", "endpoint"], registry=reg)
        self.finished = Counter("inkwell_requests_finished", "Requests finished, by model and finish reason",
                                ["model", "finish_reason"], registry=reg)
        self.prompt_tokens = Counter("inkwell_prompt_tokens", "Prompt tokens, by model", ["model"], registry=reg)
        self.generation_tokens = Counter("inkwell_generation_tokens", "Generated tokens, by model",
                                         ["model"], registry=reg)
        self.ttft = Histogram("inkwell_time_to_first_token_seconds", "Time to first token", ["model"],
                              buckets=LATENCY_BUCKETS, registry=reg)
        self.itl = Histogram("inkwell_inter_token_latency_seconds", "Time between streamed tokens",
                             ["model"], buckets=LATENCY_BUCKETS, registry=reg)
        self.runtime_adapter_loads = Counter("inkwell_runtime_adapter_loads",
                                             "Adapters loaded or unloaded through the API", ["action"],
                                             registry=reg)
        self._engine = EngineStatsCollector(engine_stats)
        reg.register(self._engine)

    def render(self, lora_stats: dict[str, Any] | None = None) -> bytes:
        """The text exposition format, with the adapter pool's figures as computed for this scrape."""
        self._engine.lora_stats = lora_stats or {}
        return generate_latest(self.registry)

    def timer(self, model: str, endpoint: str) -> RequestTimer:
        """Start timing one accepted request."""
        self.requests.labels(model, endpoint).inc()
        return RequestTimer(self, model)


class RequestTimer:
    """Observes one request's time to first token, inter-token latency and token counts."""

    def __init__(self, metrics: ServerMetrics, model: str) -> None:
        self._metrics = metrics
        self._model = model
        self._start = time.perf_counter()
        self._last: float | None = None
        self._done = False

    def observe(self, output: RequestOutput) -> None:
        """Record one step's output of the request."""
        new_tokens = sum(len(choice.delta_token_ids) for choice in output.outputs)
        now = time.perf_counter()
        if new_tokens:
            if self._last is None:
                self._metrics.ttft.labels(self._model).observe(now - self._start)
            else:
                self._metrics.itl.labels(self._model).observe(now - self._last)
            self._last = now
            self._metrics.generation_tokens.labels(self._model).inc(new_tokens)
        if output.finished:
            self._finish(output)

    def close(self) -> None:
        """The request ended; counted as aborted unless its last output was already observed."""
        if not self._done:
            self._done = True
            self._metrics.finished.labels(self._model, "abort").inc()

    def _finish(self, output: RequestOutput) -> None:
        self._done = True
        prompt_tokens = len(output.prompt_token_ids)
        self._metrics.prompt_tokens.labels(self._model).inc(prompt_tokens)
        reason = output.outputs[0].finish_reason if output.outputs else None
        self._metrics.finished.labels(self._model, str(reason)).inc()
        if self._metrics.on_finished is not None:
            completion = sum(len(choice.token_ids) for choice in output.outputs)
            self._metrics.on_finished(self._model, prompt_tokens, completion)
