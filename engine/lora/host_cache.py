"""The host-memory cache of loaded adapters: least recently used first out, bounded by bytes.

Adapters differ in size by orders of magnitude (a rank-8 adapter of a 135M model is ~5 MB, a rank-64 one of
a 7B model ~340 MB), so the bound that matters is their bytes; an optional count bound is kept for the
``max_cpu_loras`` of vLLM-style configurations. An evicted adapter is reloaded from its folder when needed.
"""

from __future__ import annotations

from collections import OrderedDict

from engine.lora.weights import LoadedAdapter


class HostCache:
    """Loaded adapters by name, at most ``max_bytes`` of them (and ``max_adapters``, when set).

    The adapter put last always stays, even alone above the budget: it is the one about to be served.
    """

    def __init__(self, max_bytes: int, max_adapters: int | None = None) -> None:
        if max_bytes <= 0 or (max_adapters is not None and max_adapters < 1):
            raise ValueError(f"host cache bounds must be > 0 bytes and >= 1 adapter, got {max_bytes}, {max_adapters}")
        self.max_bytes, self.max_adapters = max_bytes, max_adapters
        self._adapters: OrderedDict[str, LoadedAdapter] = OrderedDict()
        self._bytes = 0

    def __contains__(self, name: str) -> bool:
        return name in self._adapters

    def __len__(self) -> int:
        return len(self._adapters)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached adapters."""
        return self._bytes

    def get(self, name: str) -> LoadedAdapter:
        """The cached adapter ``name`` (``KeyError`` if absent), now the most recently used."""
        self._adapters.move_to_end(name)
        return self._adapters[name]

    def put(self, name: str, adapter: LoadedAdapter) -> list[str]:
        """Cache ``adapter`` as ``name`` (replacing an older one), evict beyond the bounds; the evicted names."""
        self.pop(name)
        self._adapters[name] = adapter
        self._bytes += adapter.nbytes
        evicted = []
        while len(self._adapters) > 1 and self._over():
            old, dropped = self._adapters.popitem(last=False)
            self._bytes -= dropped.nbytes
            evicted.append(old)
        return evicted

    def pop(self, name: str) -> None:
        """Drop ``name`` if cached."""
        dropped = self._adapters.pop(name, None)
        if dropped is not None:
            self._bytes -= dropped.nbytes

    def _over(self) -> bool:
        too_many = self.max_adapters is not None and len(self._adapters) > self.max_adapters
        return too_many or self._bytes > self.max_bytes
