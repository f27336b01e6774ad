"""The Compare tab: one prompt, up to four styles, streaming side by side."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from app.ui.gallery import Gallery
from app.ui.compare import MAX_COMPARE, compare
from app.ui.controls_panel import ControlsPanel
from app.ui.services import Services
from app.ui.write_tab import wire_stop


def pane_updates(gallery: Gallery, styles: list[str] | None) -> list[Any]:
    """Label each pane with its style's name; hide panes beyond the chosen styles."""
    styles = list(styles or [])[:MAX_COMPARE]
    return [gr.update(label=gallery.cards[s].name if s in gallery.cards else s, visible=True, value="")
            for s in styles] + [gr.update(visible=False, value="")] * (MAX_COMPARE - len(styles))


def build_compare_tab(services: Services, viewer: gr.State, panel: ControlsPanel) -> None:
    """Render the tab and wire its events."""
    gallery = services.gallery
    chosen = list(gallery.cards)[:min(3, MAX_COMPARE)]
    styles = gr.CheckboxGroup(gallery.choices(), value=chosen, label=f"Styles (up to {MAX_COMPARE})",
                              elem_id="compare-styles")
    prompt = gr.Textbox(lines=3, label="Prompt", elem_id="compare-prompt")
    with gr.Row():
        run = gr.Button("Compare", variant="primary", elem_id="compare")
        stop = gr.Button("Stop", variant="stop", elem_id="compare-stop")
    with gr.Row():
        panes = [gr.Textbox(lines=12, interactive=False, elem_id=f"pane-{i}", visible=i < len(chosen),
                            label=gallery.cards[chosen[i]].name if i < len(chosen) else f"Style {i + 1}")
                 for i in range(MAX_COMPARE)]
    status = gr.Markdown(elem_id="compare-status")
    event = run.click(partial(compare, services), [viewer, prompt, styles, *panel.sliders()], [*panes, status],
                      show_progress="hidden", api_name="compare_styles")
    wire_stop(stop, [event], status)
    styles.change(lambda s: pane_updates(gallery, s), styles, panes)
