"""The writer's current piece in one browser tab: its session, prompt, style and alternatives."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Draft:
    """Per-tab writing state, kept in a ``gr.State``; alternatives are every take on the prompt."""

    session_id: int | None = None
    prompt: str = ""
    style: str | None = None
    alternatives: list[str] = field(default_factory=list)
    index: int = -1

    def current(self) -> str:
        """The alternative on screen ('' before the first generation)."""
        return self.alternatives[self.index] if self.alternatives else ""

    def start_take(self) -> None:
        """Open a new, empty alternative and show it."""
        self.alternatives.append("")
        self.index = len(self.alternatives) - 1

    def set_current(self, text: str) -> None:
        """Replace the text of the alternative on screen."""
        self.alternatives[self.index] = text

    def move(self, step: int) -> None:
        """Browse alternatives by ``step`` (clamped at both ends)."""
        if self.alternatives:
            self.index = max(0, min(len(self.alternatives) - 1, self.index + step))

    def label(self) -> str:
        """Where we are among the alternatives, in words."""
        if not self.alternatives:
            return "No text yet."
        return f"Alternative {self.index + 1} of {len(self.alternatives)}"
