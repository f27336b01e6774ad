"""The style picker, the length presets and the strength and sampling sliders of the Write tab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.ui.blend_control import BlendControl, build_blend_control
from app.ui.gallery import Controls, Gallery

# Length presets beside max tokens: (label, tokens); a sonnet is 14 lines of about ten syllables.
LENGTHS = [("A line", 24), ("A paragraph", 128), ("A sonnet", 176), ("A page", 512)]


@dataclass(frozen=True)
class ControlsPanel:
    """The components other panels read: the chosen style and the four generation controls."""

    style: gr.Dropdown
    strength: gr.Slider
    temperature: gr.Slider
    top_p: gr.Slider
    max_tokens: gr.Slider
    length: gr.Radio
    blend: BlendControl

    def sliders(self) -> list[gr.Slider]:
        """strength, temperature, top-p, max tokens: the order ``Controls`` takes them."""
        return [self.strength, self.temperature, self.top_p, self.max_tokens]


def defaults_for(gallery: Gallery, style_id: str | None) -> tuple[Any, ...]:
    """Slider values for a style's defaults (unchanged sliders for an unknown style)."""
    if style_id not in gallery.cards:
        return (gr.update(),) * 4
    d = gallery.cards[style_id].defaults
    return d.strength, d.temperature, d.top_p, d.max_tokens


def preset_for(max_tokens: float) -> str | None:
    """The length preset matching a max-tokens value, if any."""
    return next((label for label, tokens in LENGTHS if tokens == int(max_tokens)), None)


def _sliders(initial: Controls, show_strength: bool) -> tuple[gr.Slider, ...]:
    """The four sliders, not yet rendered (strength hidden when the engine ignores it)."""
    return (
        gr.Slider(0, 2, value=initial.strength, step=0.05, label="Style strength", render=False,
                  info="0 = the plain base model, 1 = as trained, 2 = exaggerated", elem_id="strength",
                  visible=show_strength),
        gr.Slider(0, 2, value=initial.temperature, step=0.05, label="Temperature", render=False,
                  elem_id="temperature"),
        gr.Slider(0.05, 1, value=initial.top_p, step=0.05, label="Top-p", render=False, elem_id="top-p"),
        gr.Slider(8, 2048, value=initial.max_tokens, step=8, label="Max tokens", render=False,
                  elem_id="max-tokens"),
    )


def build_controls(gallery: Gallery) -> ControlsPanel:
    """Render the style row (style, length, max tokens), the "Blend with" and the sampling accordions;
    wire a style's defaults on style changes and presets onto max tokens."""
    first = gallery.first()
    initial = gallery.cards[first].defaults if first else Controls()
    strength, temperature, top_p, max_tokens = _sliders(initial, gallery.lora_scale_supported)
    with gr.Row(equal_height=True, elem_id="style-row"):
        style = gr.Dropdown(gallery.choices(), value=first, label="Style", elem_id="style", min_width=160)
        length = gr.Radio([label for label, _ in LENGTHS], value=preset_for(initial.max_tokens), label="Length",
                          elem_id="length", min_width=260, scale=2)
        max_tokens.render()
    blend = build_blend_control(gallery)
    with gr.Accordion("Strength and sampling", open=False, elem_id="sampling"), gr.Row():
        for slider in (strength, temperature, top_p):
            slider.render()
    panel = ControlsPanel(style, strength, temperature, top_p, max_tokens, length, blend)
    style.change(lambda sid: defaults_for(gallery, sid), inputs=style, outputs=panel.sliders(), queue=False)
    tokens = dict(LENGTHS)
    length.input(lambda label: tokens.get(label, gr.update()), length, max_tokens, queue=False)
    max_tokens.change(preset_for, max_tokens, length, queue=False)
    return panel
