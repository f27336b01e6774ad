"""The prefix cache's index: full KV blocks by content hash, and the LRU of unreferenced ones (torch-free).

A full block is named by a hash chained over the previous block's hash, the adapter identity its keys and
values were computed with, and its tokens; so equal hashes mean equal prefixes under equal weights. The
index maps hashes to block ids; blocks no sequence references ("parked") stay findable until the block
manager needs room and evicts the least recently parked one.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict

AdapterKey = tuple  # ((adapter name, adapter version, weight), ...); () for the base model


def block_hash(parent: bytes | None, key: AdapterKey, tokens: list[int]) -> bytes:
    """The chained content hash of one full block (BLAKE2b: no crafted collisions across users)."""
    digest = hashlib.blake2b(parent or b"", digest_size=16)
    digest.update(repr(key).encode())
    digest.update(array("q", tokens).tobytes())
    return digest.digest()


class PrefixCache:
    """Hash -> block id for full blocks, each block's adapter key, and the LRU of parked blocks."""

    def __init__(self) -> None:
        self._blocks: dict[bytes, int] = {}
        self._hash_of: dict[int, bytes] = {}
        self._key_of: dict[int, AdapterKey] = {}
        self._parked: OrderedDict[int, None] = OrderedDict()  # least recently parked first
        self.counters = {"queries": 0, "hits": 0, "evictions": 0}

    @property
    def num_parked(self) -> int:
        """Cached blocks that no sequence references (reusable, or evictable when room runs out)."""
        return len(self._parked)

    def get(self, digest: bytes) -> int | None:
        """The block holding the content named ``digest``, if cached."""
        return self._blocks.get(digest)

    def is_parked(self, block: int) -> bool:
        """True when ``block`` is cached and unreferenced."""
        return block in self._parked

    def insert(self, digest: bytes, block: int, key: AdapterKey) -> None:
        """Name ``block`` by ``digest``; a content already cached in another block keeps that one."""
        if digest not in self._blocks and block not in self._hash_of:
            self._blocks[digest] = block
            self._hash_of[block] = digest
            self._key_of[block] = key

    def park(self, block: int) -> bool:
        """``block`` lost its last reference: keep it findable if it is cached (True), else False."""
        if block not in self._hash_of:
            return False
        self._parked[block] = None
        return True

    def unpark(self, block: int) -> None:
        """A sequence takes ``block`` again: it is no longer evictable."""
        self._parked.pop(block, None)

    def evict(self) -> int | None:
        """Forget the least recently parked block and return it (None when nothing is parked)."""
        if not self._parked:
            return None
        block, _ = self._parked.popitem(last=False)
        self._forget(block)
        self.counters["evictions"] += 1
        return block

    def invalidate(self, adapter: str) -> list[int]:
        """Forget every block computed with ``adapter`` (any version, alone or blended); return the parked ones.

        Blocks still referenced stay with their sequences but are never found again.
        """
        stale = [block for block, key in self._key_of.items() if any(part[0] == adapter for part in key)]
        for block in stale:
            self._forget(block)
        freed = [block for block in stale if block in self._parked]
        for block in freed:
            del self._parked[block]
        return freed

    def record(self, queried: int, hit: int) -> None:
        """Count one admitted prompt: ``queried`` tokens looked up, ``hit`` of them found."""
        self.counters["queries"] += queried
        self.counters["hits"] += hit

    def _forget(self, block: int) -> None:
        del self._blocks[self._hash_of.pop(block)]
        del self._key_of[block]
