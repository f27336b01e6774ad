"""The Write tab: prompt, Generate / Stop / Regenerate / Continue, the streamed text, alternatives."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from app.ui.controls_panel import ControlsPanel
from app.ui.draft import Draft
from app.ui.services import Services
from app.ui.writer import browse, new_piece, run_take

STOPPED = "Stopped."


@dataclass(frozen=True)
class WriteTab:
    """Components the History tab writes into when it opens a session."""

    prompt: gr.Textbox
    output: gr.Textbox
    alt_label: gr.Markdown
    status: gr.Markdown


def wire_stop(button: gr.Button, events: list, status: gr.Markdown) -> None:
    """Stop cancels the streaming events (Gradio closes their generators, so the SSE connection
    closes and the server aborts); "Stopped." is shown only after the cancel, so no late frame hides it."""
    button.click(None, cancels=events).then(lambda: STOPPED, outputs=status)


def _buttons() -> dict[str, gr.Button]:
    with gr.Row():
        return {
            "generate": gr.Button("Generate", variant="primary", elem_id="generate"),
            "stop": gr.Button("Stop", variant="stop", elem_id="stop"),
            "regenerate": gr.Button("Regenerate", elem_id="regenerate"),
            "continue": gr.Button("Continue", elem_id="continue"),
            "new": gr.Button("New piece", elem_id="new-piece"),
        }


def _alternatives_row() -> tuple[gr.Button, gr.Markdown, gr.Button]:
    with gr.Row(equal_height=True):
        previous = gr.Button("◀ Previous", size="sm", elem_id="prev-alt")
        label = gr.Markdown(Draft().label(), elem_id="alt-label")
        following = gr.Button("Next ▶", size="sm", elem_id="next-alt")
    return previous, label, following


def build_write_tab(services: Services, viewer: gr.State, draft: gr.State, panel: ControlsPanel) -> WriteTab:
    """Render the tab and wire its events."""
    prompt = gr.Textbox(lines=4, label="Prompt", placeholder="What should I write?", elem_id="prompt")
    buttons = _buttons()
    output = gr.Textbox(lines=14, label="Text", interactive=False, buttons=["copy"], elem_id="output")
    previous, alt_label, following = _alternatives_row()
    status = gr.Markdown(elem_id="status")
    inputs = [viewer, draft, prompt, panel.style, *panel.sliders()]
    outputs = [output, draft, alt_label, status]
    events = [buttons[mode].click(partial(run_take, services, mode), inputs, outputs, show_progress="hidden",
                                  api_name=f"{mode}_text")
              for mode in ("generate", "regenerate", "continue")]
    wire_stop(buttons["stop"], events, status)
    previous.click(lambda d: browse(d, -1), draft, [output, draft, alt_label])
    following.click(lambda d: browse(d, +1), draft, [output, draft, alt_label])
    buttons["new"].click(new_piece, outputs=[prompt, output, draft, alt_label, status], cancels=events)
    return WriteTab(prompt, output, alt_label, status)
