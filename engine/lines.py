"""Counts the non-empty lines of streamed text, for ``SamplingParams.lines`` (a sonnet's 14 lines)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LineCounter:
    """``done``: lines ended by a newline that hold more than whitespace; ``open``: the current one does."""

    done: int = 0
    open: bool = False

    def feed(self, text: str) -> None:
        """Count the lines ``text`` (the next piece of the stream) ends or starts."""
        *ended, tail = text.split("\n")
        for part in ended:
            self.done += self.open or bool(part.strip())
            self.open = False
        self.open = self.open or bool(tail.strip())

    def may_end(self, wanted: int) -> bool:
        """True when ending the text now leaves at least ``wanted`` non-empty lines."""
        return self.done + self.open >= wanted
