"""Hands out fixed-size KV-cache blocks to sequences and shares cached prefixes (torch-free: block ids are ints).

Every block is in exactly one state: used (in at least one sequence's block table, reference-counted),
cached (full, unreferenced, findable by content: reused on a hit, or evicted least recently released
first when free blocks run out) or free. A sequence's full blocks enter the prefix cache once the step
that computed them has run (:meth:`BlockManager.cache_full_blocks`). At admission a sequence takes the
longest chain of cached blocks that matches its tokens under its adapter identity (:meth:`match`, then
:meth:`share`) and computes only the rest. Only full blocks are shared and a sequence only writes into
blocks it allocated itself, so shared blocks are never copied.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

from engine.prefix_cache import AdapterKey, PrefixCache, block_hash
from engine.sequence import Sequence


class BlockManager:
    """``num_blocks`` blocks of ``block_size`` token slots; ``enable_caching`` turns the prefix cache on."""

    def __init__(self, num_blocks: int, block_size: int, enable_caching: bool = True) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ValueError(f"need num_blocks >= 1 and block_size >= 1, got {num_blocks}, {block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_caching = enable_caching
        self.cache = PrefixCache()
        self._refs = [0] * num_blocks
        self._free = list(range(num_blocks - 1, -1, -1))  # pop() hands out low ids first

    @property
    def num_free_blocks(self) -> int:
        """Blocks neither referenced nor cached."""
        return len(self._free)

    @property
    def num_cached_blocks(self) -> int:
        """Unreferenced blocks kept findable by the prefix cache."""
        return self.cache.num_parked

    @property
    def num_available_blocks(self) -> int:
        """Blocks that can be handed out: free ones, then cached ones by eviction."""
        return len(self._free) + self.cache.num_parked

    @property
    def num_used_blocks(self) -> int:
        """Blocks referenced by at least one sequence."""
        return self.num_blocks - self.num_available_blocks

    def blocks_needed(self, seq: Sequence, num_tokens: int) -> int:
        """Extra blocks ``seq`` needs so that its table covers ``num_tokens`` tokens."""
        return max(0, -(-num_tokens // self.block_size) - len(seq.block_table))

    def can_allocate(self, seq: Sequence, num_tokens: int, shared: Seq[int] = ()) -> bool:
        """True when ``seq`` can cover ``num_tokens`` tokens after first taking the cached ``shared`` blocks."""
        revived = sum(1 for block in shared if self.cache.is_parked(block))
        return self.blocks_needed(seq, num_tokens) - len(shared) + revived <= self.num_available_blocks

    def allocate(self, seq: Sequence, num_tokens: int) -> None:
        """Grow ``seq.block_table`` to cover ``num_tokens`` tokens; raises if blocks run out."""
        needed = self.blocks_needed(seq, num_tokens)
        if needed > self.num_available_blocks:
            raise RuntimeError(f"out of KV blocks: need {needed}, {self.num_available_blocks} available")
        seq.block_table.extend(self._fresh() for _ in range(needed))

    def free(self, seq: Sequence) -> None:
        """Drop ``seq``'s references; its cached blocks stay findable (its tail ones are evicted first)."""
        for block in reversed(seq.block_table):
            self._refs[block] -= 1
            if self._refs[block] == 0 and not self.cache.park(block):
                self._free.append(block)
        seq.block_table = []
        seq.num_registered_blocks = 0

    def slot(self, seq: Sequence, position: int) -> int:
        """The flat cache slot of token ``position`` of ``seq``."""
        return seq.block_table[position // self.block_size] * self.block_size + position % self.block_size

    # ---- prefix cache ----
    def match(self, seq: Sequence, key: AdapterKey | None) -> list[int]:
        """Cached blocks holding ``seq``'s longest cached prefix under adapter identity ``key``.

        At most ``num_tokens - 1`` tokens are reused: the last one must run to give logits. Nothing is
        found with caching off or while ``key`` is unknown (None).
        """
        if not self.enable_caching or key is None:
            return []
        self._set_key(seq, key)
        found = []
        for digest in self._hashes(seq, (seq.num_tokens - 1) // self.block_size):
            block = self.cache.get(digest)
            if block is None:
                break
            found.append(block)
        return found

    def share(self, seq: Sequence, blocks: list[int], key: AdapterKey) -> None:
        """Start ``seq``'s empty table with the cached ``blocks`` from :meth:`match` (``[]``: none).

        ``key`` is the adapter identity ``seq`` now runs with; its first admission is counted in the
        hit-rate counters and sets ``seq.num_cached_tokens``.
        """
        self._set_key(seq, key)
        for block in blocks:
            self.cache.unpark(block)
            self._refs[block] += 1
        seq.block_table = list(blocks)
        seq.num_registered_blocks = len(blocks)
        if seq.num_cached_tokens is None:
            seq.num_cached_tokens = len(blocks) * self.block_size
            self.cache.record(seq.num_tokens, seq.num_cached_tokens)

    def cache_full_blocks(self, seq: Sequence) -> None:
        """Offer ``seq``'s full, computed blocks to the prefix cache (call only after their step ran)."""
        if not self.enable_caching or seq.cache_key is None:
            return
        full = min(seq.num_computed_tokens // self.block_size, len(seq.block_table))
        start = seq.num_registered_blocks
        for i, digest in enumerate(self._hashes(seq, full)[start:], start):
            self.cache.insert(digest, seq.block_table[i], seq.cache_key)
        seq.num_registered_blocks = max(start, full)

    def invalidate(self, adapter: str) -> None:
        """Forget every cached block computed with ``adapter`` (its weights were replaced or removed)."""
        self._free.extend(self.cache.invalidate(adapter))

    def stats(self) -> dict[str, int]:
        """Prefix-cache counters (tokens queried and hit at admission, evictions) and cached blocks."""
        return {**self.cache.counters, "cached_blocks": self.num_cached_blocks}

    def _fresh(self) -> int:
        block = self._free.pop() if self._free else self.cache.evict()
        self._refs[block] = 1
        return block

    def _set_key(self, seq: Sequence, key: AdapterKey) -> None:
        if seq.cache_key != key:
            seq.cache_key, seq.block_hashes = key, []

    def _hashes(self, seq: Sequence, count: int) -> list[bytes]:
        """Chained hashes of ``seq``'s first ``count`` full blocks, memoised on ``seq`` for its key."""
        hashes, size = seq.block_hashes, self.block_size
        for i in range(len(hashes), count):
            parent = hashes[-1] if hashes else None
            hashes.append(block_hash(parent, seq.cache_key, seq.tokens(i * size, (i + 1) * size)))
        return hashes[:count]
