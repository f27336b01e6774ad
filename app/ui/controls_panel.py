"""The style picker, its gallery cards, and the strength and sampling sliders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.ui.gallery import Controls, Gallery

CARDS_PER_ROW = 3


@dataclass(frozen=True)
class ControlsPanel:
    """The components other panels read: the chosen style and the four generation controls."""

    style: gr.Dropdown
    strength: gr.Slider
    temperature: gr.Slider
    top_p: gr.Slider
    max_tokens: gr.Slider

    def sliders(self) -> list[gr.Slider]:
        """strength, temperature, top-p, max tokens: the order ``Controls`` takes them."""
        return [self.strength, self.temperature, self.top_p, self.max_tokens]


def defaults_for(gallery: Gallery, style_id: str | None) -> tuple[Any, ...]:
    """Slider values for a style's defaults (unchanged sliders for an unknown style)."""
    if style_id not in gallery.cards:
        return (gr.update(),) * 4
    d = gallery.cards[style_id].defaults
    return d.strength, d.temperature, d.top_p, d.max_tokens


def _sliders(initial: Controls, show_strength: bool = True) -> tuple[gr.Slider, ...]:
    """The four sliders, not yet rendered (strength hidden when the engine ignores it)."""
    return (
        gr.Slider(0, 2, value=initial.strength, step=0.05, label="Style strength", render=False,
                  info="0 = the plain base model, 1 = as trained, 2 = exaggerated", elem_id="strength",
                  visible=show_strength),
        gr.Slider(0, 2, value=initial.temperature, step=0.05, label="Temperature", render=False,
                  elem_id="temperature"),
        gr.Slider(0.05, 1, value=initial.top_p, step=0.05, label="Top-p", render=False, elem_id="top-p"),
        gr.Slider(16, 2048, value=initial.max_tokens, step=16, label="Max tokens", render=False,
                  elem_id="max-tokens"),
    )


def _gallery(gallery: Gallery, outputs: list[Any]) -> None:
    """Cards of every style, each with a button that picks it (and its defaults)."""
    ids = list(gallery.cards)
    for start in range(0, len(ids), CARDS_PER_ROW):
        with gr.Row():
            for style_id in ids[start:start + CARDS_PER_ROW]:
                with gr.Column(min_width=220):
                    gr.HTML(gallery.card_html(style_id))
                    button = gr.Button(f"Use {gallery.cards[style_id].name}", size="sm",
                                       elem_id=f"use-{style_id}")
                button.click(lambda sid=style_id: (sid, *defaults_for(gallery, sid)), outputs=outputs)


def build_controls(gallery: Gallery) -> ControlsPanel:
    """Render the gallery, the style dropdown and the sliders; wire defaults on style changes."""
    first = gallery.first()
    panel = ControlsPanel(gr.Dropdown(gallery.choices(), value=first, label="Style", elem_id="style",
                                      render=False),
                          *_sliders(gallery.cards[first].defaults if first else Controls(),
                                    gallery.lora_scale_supported))
    with gr.Accordion("Style gallery", open=True, elem_id="gallery"):
        _gallery(gallery, [panel.style, *panel.sliders()])
    panel.style.render()
    with gr.Accordion("Strength and sampling", open=False), gr.Row():
        for slider in panel.sliders():
            slider.render()
    panel.style.input(lambda sid: defaults_for(gallery, sid), inputs=panel.style, outputs=panel.sliders())
    return panel
