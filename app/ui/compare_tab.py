"""The Compare tab: one prompt, up to four styles (each with its own defaults), streaming side by side."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from app.ui.compare import MAX_COMPARE, compare, limit_styles, settings_label
from app.ui.gallery import Gallery
from app.ui.services import Services
from app.ui.write_tab import restoring, wire_stop


def pane_updates(gallery: Gallery, styles: list[str] | None) -> list[Any]:
    """Label each pane with its style and settings; hide panes beyond the chosen styles."""
    styles = [s for s in list(styles or [])[:MAX_COMPARE] if s in gallery.cards]
    return [gr.update(label=settings_label(gallery, s), visible=True, value="") for s in styles] \
        + [gr.update(visible=False, value="")] * (MAX_COMPARE - len(styles))


def build_compare_tab(services: Services, viewer: gr.State) -> None:
    """Render the tab and wire its events (each style runs at its own default strength and sampling)."""
    gallery = services.gallery
    chosen = list(gallery.cards)[:min(3, MAX_COMPARE)]
    ticked, run = gr.State(chosen), gr.State(None)
    styles = gr.CheckboxGroup(gallery.choices(), value=chosen, label=f"Styles (up to {MAX_COMPARE})",
                              elem_id="compare-styles")
    prompt = gr.Textbox(lines=3, label="Prompt", elem_id="compare-prompt")
    with gr.Row(elem_classes=["ink-buttons"]):
        start = gr.Button("Compare", variant="primary", elem_id="compare", min_width=0)
        stop = gr.Button("Stop", variant="stop", elem_id="compare-stop", min_width=0)
    status = gr.Markdown(elem_id="compare-status", elem_classes=["ink-status"])
    with gr.Row():
        panes = [gr.Textbox(lines=12, interactive=False, elem_id=f"pane-{i}", visible=i < len(chosen), min_width=280,
                            label=settings_label(gallery, chosen[i]) if i < len(chosen) else f"Style {i + 1}")
                 for i in range(MAX_COMPARE)]
    event = start.click(restoring(services), viewer, viewer, queue=False).then(
        partial(compare, services), [viewer, run, prompt, styles], [*panes, status, run],
        show_progress="hidden", api_name="compare_styles")
    wire_stop(stop, [event], status)
    styles.input(limit_styles, [styles, ticked], [styles, ticked, status], queue=False).then(
        lambda s: pane_updates(gallery, s), styles, panes, queue=False)
