"""The "Blend with" control: up to two more styles, each with a weight, mixed into the chosen style.

``build_blend_control(gallery)`` renders the components (hidden when the engine cannot blend: vLLM or
SGLang behind ``--engine-url``); ``blend_styles(style, strength, *control.values)`` turns their values
into the API's ``styles`` list (``ChatRequest.styles``), None when nothing is blended; ``describe_blend``
labels a take that was written with one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.ui.gallery import Gallery

EXTRA_STYLES = 2  # with the chosen style: the engine's limit of three adapters per request
DEFAULT_WEIGHT = 0.5
NO_STYLE = ""


@dataclass(frozen=True)
class BlendControl:
    """The rendered components: a dropdown and a weight slider per extra style."""

    box: gr.Accordion
    styles: tuple[gr.Dropdown, ...]
    weights: tuple[gr.Slider, ...]

    @property
    def values(self) -> list[gr.components.Component]:
        """style, weight, style, weight: the inputs :func:`blend_styles` takes after the style and strength."""
        return [part for pair in zip(self.styles, self.weights) for part in pair]


def build_blend_control(gallery: Gallery) -> BlendControl:
    """Render "Blend with" (inside the caller's Blocks), closed, no extra style picked."""
    choices = [("(none)", NO_STYLE), *gallery.choices()]
    with gr.Accordion("Blend with", open=False, visible=gallery.lora_scale_supported, elem_id="blend") as box:
        gr.Markdown("Mix up to two more styles into this one; each weight scales that style's effect.")
        styles, weights = [], []
        for i in range(EXTRA_STYLES):
            with gr.Row():
                styles.append(gr.Dropdown(choices, value=NO_STYLE, label=f"Style {i + 2}", elem_id=f"blend-style-{i}"))
                weights.append(gr.Slider(0, 2, value=DEFAULT_WEIGHT, step=0.05, label="Weight",
                                         elem_id=f"blend-weight-{i}"))
    return BlendControl(box, tuple(styles), tuple(weights))


def blend_styles(style: str | None, strength: float, *extras: Any) -> list[dict[str, Any]] | None:
    """The ``styles`` field: ``style`` at ``strength`` first, then each picked extra style at its weight.

    ``extras`` are (style, weight) pairs flattened, as :attr:`BlendControl.values` passes them; pairs with
    no style or weight 0 are left out. None when nothing is blended (send a plain request). Raises
    ValueError in words a writer can act on.
    """
    if len(extras) % 2:
        raise ValueError("blend_styles takes (style, weight) pairs after the style and its strength")
    picked = [(name, float(weight)) for name, weight in zip(extras[::2], extras[1::2])
              if name and float(weight) > 0]
    if not picked:
        return None
    if not style:
        raise ValueError("Pick a style first, then the styles to blend with it.")
    names = [style, *(name for name, _ in picked)]
    if len(set(names)) != len(names):
        raise ValueError("Blend with: pick styles that differ from each other and from the main style.")
    if strength <= 0:
        raise ValueError("Blend with: raise the style strength above 0 (it is the main style's weight).")
    return [{"name": name, "weight": weight} for name, weight in [(style, float(strength)), *picked]]


def describe_blend(styles: list[dict[str, Any]] | None) -> str:
    """A short label such as ``poetry 0.7 + legal 0.3`` ("" without a blend), for a take's history."""
    return " + ".join(f"{s['name']} {s['weight']:g}" for s in styles or ())
