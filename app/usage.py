"""Per-style usage: each finished generation counts at once in the catalog (the gallery's order) and
is added to the style's row in batches, so a busy server writes the database every few seconds, not
after every request. Increments are atomic, so app replicas sharing one database add up."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime

from app.catalog import Catalog
from app.catalog_store import CatalogStore
from db.types import utcnow

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 5.0


class UsageRecorder:
    """Counts finished generations by model name; ``flush`` writes them to the styles table."""

    def __init__(self, catalog: Catalog, store: CatalogStore) -> None:
        self.catalog, self._store = catalog, store
        self._pending: dict[str, tuple[int, int, int, datetime]] = {}
        self._lock = threading.Lock()

    def record(self, name: str, prompt_tokens: int, completion_tokens: int) -> None:
        """One finished generation of ``name`` (safe from any thread; does not touch the database)."""
        now = utcnow()
        self.catalog.note_usage(name, prompt_tokens, completion_tokens, now)
        with self._lock:
            n, p, c, _ = self._pending.get(name, (0, 0, 0, now))
            self._pending[name] = (n + 1, p + prompt_tokens, c + completion_tokens, now)

    def flush(self) -> None:
        """Write the counts gathered since the last flush (blocking: run it in a thread)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for name, (n, p, c, when) in pending.items():
            try:
                self._store.add_usage(name, (n, p, c), when)
            except Exception:  # the database is down: keep serving, the counts are lost
                log.exception("usage of %s (%d generations) not stored", name, n)

    async def run(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        """Flush every ``interval_s`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval_s)
                await asyncio.to_thread(self.flush)
        finally:
            await asyncio.to_thread(self.flush)
