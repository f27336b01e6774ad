"""The styles as the UI shows them, read from the one catalog (``app.catalog``): choices, per-style
default controls and gallery cards."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from app.catalog import Catalog, CatalogEntry, Order
from styles.manifest import default_strength

SAMPLE_CHARS = 220


@dataclass(frozen=True)
class Controls:
    """The writer's generation controls: style strength (adapter scale) and sampling."""

    strength: float = 1.0
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.strength <= 2.0, "style strength", "between 0 and 2"),
            (0.0 <= self.temperature <= 2.0, "temperature", "between 0 and 2"),
            (0.0 < self.top_p <= 1.0, "top-p", "above 0 and at most 1"),
            (1 <= self.max_tokens <= 8192, "max tokens", "between 1 and 8192"),
        ]
        for ok, name, rule in checks:
            if not ok:
                raise ValueError(f"The {name} must be {rule}.")

    @classmethod
    def from_sliders(cls, strength: float, temperature: float, top_p: float, max_tokens: float) -> Controls:
        """Controls from slider values (Gradio sends every number as a float)."""
        return cls(float(strength), float(temperature), float(top_p), int(max_tokens))

    def params(self) -> dict[str, Any]:
        """Sampling parameters as stored with a generation."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class StyleCard:
    """What the gallery shows for one style."""

    id: str
    name: str
    description: str
    sample: str
    defaults: Controls


def _sample(examples: Any) -> str:
    """A short sample out of a style's examples (prompts): the first non-empty one, shortened."""
    for example in examples or []:
        text = " ".join(str(example).split())
        if text:
            return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"
    return ""


def _defaults(raw: dict[str, Any] | None) -> Controls:
    """A style's strength and sampling defaults as Controls; other keys are ignored, missing ones fall back."""
    raw = raw or {}
    base = Controls()
    return Controls(
        strength=default_strength(raw),
        temperature=float(raw.get("temperature", base.temperature)),
        top_p=float(raw.get("top_p", base.top_p)),
        max_tokens=int(raw.get("max_tokens", base.max_tokens)),
    )


def style_card(entry: CatalogEntry) -> StyleCard:
    """The gallery card of a catalog entry."""
    return StyleCard(entry.name, entry.title, entry.description, _sample(entry.examples), _defaults(entry.defaults))


class Gallery:
    """The catalog's styles in display order (most used first by default), by id.

    ``lora_scale_supported`` is False when the engine ignores a per-request strength (vLLM, SGLang):
    the strength slider is then hidden.
    """

    def __init__(self, catalog: Catalog, order: Order = "usage") -> None:
        styles = catalog.styles(order)
        self.cards = {entry.name: style_card(entry) for entry in styles}
        self.lora_scale_supported = all(entry.lora_scale_supported for entry in styles)

    def choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for dropdowns."""
        return [(c.name, c.id) for c in self.cards.values()]

    def first(self) -> str | None:
        """The style preselected in the writer."""
        return next(iter(self.cards), None)

    def card(self, style_id: str | None) -> StyleCard:
        """The card of ``style_id``; raises ValueError in words when unknown."""
        if not style_id:
            raise ValueError("Pick a style first.")
        if style_id not in self.cards:
            raise ValueError(f"Unknown style {style_id!r}; pick one of: {', '.join(self.cards)}.")
        return self.cards[style_id]

    def card_html(self, style_id: str) -> str:
        """A gallery card as HTML (escaped)."""
        card = self.cards[style_id]
        return (f'<div class="ink-card" data-style="{html.escape(card.id)}">'
                f"<h3>{html.escape(card.name)}</h3><p>{html.escape(card.description)}</p></div>")
