"""Stop-string matching over streamed text: find a stop, or say how much text is safe to show."""

from __future__ import annotations


class StopMatcher:
    """Finds stop strings in pending text and the tail that might still grow into one."""

    def __init__(self, stops: list[str]) -> None:
        if any(not isinstance(s, str) or not s for s in stops):
            raise ValueError(f"stop strings must be non-empty strings, got {stops!r}")
        self.stops = list(stops)

    def find(self, text: str) -> tuple[int, str] | None:
        """The earliest (index, stop string) in ``text``; the longest stop wins a tie; else None."""
        hits = [(text.find(s), -len(s), s) for s in self.stops]
        found = [(index, neg, s) for index, neg, s in hits if index >= 0]
        if not found:
            return None
        index, _, stop = min(found)
        return index, stop

    def held_back(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest
