"""The style gallery: a collapsible set of compact cards; "Use" picks a style (the chosen one shows
as selected) and each card's example fills the prompt."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.gallery import Gallery

CARDS_PER_ROW = 3


def use_label(gallery: Gallery, style_id: str, chosen: str | None) -> Any:
    """A card's button: "✓ Using X" (primary) for the chosen style, "Use X" otherwise."""
    name = gallery.cards[style_id].name
    if style_id == chosen:
        return gr.update(value=f"✓ Using {name}", variant="primary")
    return gr.update(value=f"Use {name}", variant="secondary")


def build_gallery(gallery: Gallery, style: gr.Dropdown, prompt: gr.Textbox) -> None:
    """Render the (closed) gallery and wire its buttons to the style picker and the prompt."""
    ids = list(gallery.cards)
    buttons: list[gr.Button] = []
    with gr.Accordion(f"Style gallery ({len(ids)} styles)", open=False, elem_id="gallery"):
        for start in range(0, len(ids), CARDS_PER_ROW):
            with gr.Row():
                for style_id in ids[start:start + CARDS_PER_ROW]:
                    buttons.append(_card(gallery, style_id, style, prompt))
    style.change(lambda sid: [use_label(gallery, s, sid) for s in ids], style, buttons, queue=False)


def _card(gallery: Gallery, style_id: str, style: gr.Dropdown, prompt: gr.Textbox) -> gr.Button:
    card = gallery.cards[style_id]
    with gr.Column(min_width=200, elem_classes=["ink-card-box"]):
        gr.HTML(gallery.card_html(style_id))
        if card.sample:
            example = gr.Button(f"Try: “{card.sample}”", size="sm", elem_classes=["ink-example"],
                                elem_id=f"try-{style_id}")
            example.click(lambda sid=style_id, text=card.sample: (sid, text), outputs=[style, prompt], queue=False)
        initial = use_label(gallery, style_id, gallery.first())
        button = gr.Button(initial["value"], variant=initial["variant"], size="sm", elem_id=f"use-{style_id}")
    button.click(lambda sid=style_id: sid, outputs=style, queue=False)
    return button
