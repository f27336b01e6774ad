"""The writer's current piece in one browser tab: its session, prompt, and every take on the prompt.

A take is one text the writer can browse to, labelled with the style, strength and time it was
written in. Continue extends the take on screen in place; Regenerate and Generate add a take.
Undo takes the last generation back: a continuation returns to the text it started from, a new
take is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Take:
    """One text of the piece and how it was made."""

    text: str = ""
    style: str | None = None
    style_name: str = ""
    strength: float = 1.0
    at: str = ""  # "14:02", when it was written
    message_id: int | None = None
    base: str = ""  # the text its last generation continued ("" when that generation started it)
    continued: bool = False  # its last generation was a Continue (Undo returns to ``base``)

    def describe(self) -> str:
        """Style, strength and time in words."""
        parts = [self.style_name or self.style or "text", f"strength {self.strength:g}"]
        return " · ".join(parts + ([self.at] if self.at else []))


@dataclass
class Draft:
    """Per-tab writing state, kept in a ``gr.State``."""

    session_id: int | None = None
    prompt: str = ""
    style: str | None = None
    takes: list[Take] = field(default_factory=list)
    index: int = -1

    def take(self) -> Take | None:
        """The take on screen (None before the first generation)."""
        return self.takes[self.index] if self.takes else None

    def current(self) -> str:
        """The text on screen ('' before the first generation)."""
        take = self.take()
        return take.text if take else ""

    def add(self, take: Take) -> None:
        """Add a take and show it."""
        self.takes.append(take)
        self.index = len(self.takes) - 1

    def drop(self) -> None:
        """Remove the take on screen and show the one before it."""
        if self.takes:
            self.takes.pop(self.index)
            self.index = min(self.index, len(self.takes) - 1)

    def set_current(self, text: str) -> None:
        """Replace the text of the take on screen."""
        if self.takes:
            self.takes[self.index].text = text

    def move(self, step: int) -> None:
        """Browse takes by ``step`` (clamped at both ends)."""
        if self.takes:
            self.index = max(0, min(len(self.takes) - 1, self.index + step))

    def label(self) -> str:
        """Where we are among the takes and how the one on screen was written."""
        take = self.take()
        if take is None:
            return "No text yet."
        return f"Take {self.index + 1} of {len(self.takes)} · {take.describe()}"
