"""Counts the non-empty lines of streamed text, for ``SamplingParams.lines`` (a sonnet's 14 lines).

A reply that must have n lines may not end before it has them, so a model that never breaks a line
would run to ``max_tokens`` in one line: past ``WRAP_AT`` characters a line is broken after the next
punctuation mark, and past ``HARD_WRAP`` at once (``should_wrap``). ``SamplingParams.line_width`` sets
another soft width (verse: poetry's lines stay lines at any strength); the hard one keeps the same ratio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WRAP_AT, HARD_WRAP = 60, 110  # characters of the open line: break after punctuation / break now
_BREAKS = ",.;:!?"
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines' boundaries


@dataclass
class LineCounter:
    """``done``: lines ended by a newline that hold more than whitespace; ``open``: the current one does."""

    done: int = 0
    open: bool = False
    width: int = 0  # characters of the open line
    last: str = ""  # its last non-space character

    def feed(self, text: str) -> None:
        """Count the lines ``text`` (the next piece of the stream) ends or starts."""
        *ended, tail = _LINE_BREAK.split(text)
        for part in ended:
            self.done += self.open or bool(part.strip())
            self.open, self.width, self.last = False, 0, ""
        self.open = self.open or bool(tail.strip())
        self.width += len(tail)
        self.last = tail.rstrip()[-1:] or self.last

    def may_end(self, wanted: int) -> bool:
        """True when ending the text now leaves at least ``wanted`` non-empty lines."""
        return self.done + self.open >= wanted

    def should_wrap(self, soft: int = WRAP_AT) -> bool:
        """True when the open line is long enough that the next token should be a newline: ``soft``
        characters or more after punctuation, or ``soft * HARD_WRAP / WRAP_AT`` or more at all."""
        return self.width * WRAP_AT >= soft * HARD_WRAP or (self.width >= soft and self.last in _BREAKS)
