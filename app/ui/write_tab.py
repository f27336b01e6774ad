"""The Write tab, prompt first: the prompt, the style row, the buttons with the working state beside
them, the editable text with its counts and takes, the sampling settings, then the style gallery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from app.ui import auth
from app.ui.controls_panel import ControlsPanel, build_controls
from app.ui.draft import Draft
from app.ui.export import hard_breaks
from app.ui.gallery_panel import build_gallery
from app.ui.resume import keep_unsent
from app.ui.services import Services
from app.ui.writer import browse, counts, edit, new_piece, run_take, undo

STOPPED = "Stopped."
MODES = ("generate", "regenerate", "continue")


@dataclass(frozen=True)
class WriteTab:
    """Components the History tab writes into when it opens a session."""

    prompt: gr.Textbox
    output: gr.Textbox
    take_label: gr.Markdown
    status: gr.Markdown
    counts: gr.Markdown
    panel: ControlsPanel


def restoring(services: Services) -> Callable[..., Any]:
    """An event step that puts the cookie's viewer back into a tab that lost it (server restart)."""

    def restore(viewer: Any, request: gr.Request) -> Any:
        return auth.restore(services, viewer, request)

    return restore


def wire_stop(button: gr.Button, events: list, status: gr.Markdown, unlock: list | None = None) -> None:
    """Stop cancels the streaming events (Gradio closes their generators, so the SSE connection
    closes and the server aborts); "Stopped." is shown only after the cancel, so no late frame hides it."""
    unlock = unlock or []
    button.click(None, cancels=events).then(lambda: (STOPPED, *[gr.update(interactive=True)] * len(unlock)),
                                            outputs=[status, *unlock], queue=False)


def render(text: str, on: bool) -> Any:
    """The formatted (Markdown) view of the text (its line breaks kept), shown only when asked for."""
    return gr.update(value=hard_breaks(text or "") if on else "", visible=bool(on))


def _buttons() -> dict[str, gr.Button]:
    with gr.Row(elem_id="write-buttons", elem_classes=["ink-buttons"]):
        return {
            "generate": gr.Button("Generate", variant="primary", elem_id="generate", min_width=0,
                                  elem_classes=["ink-compact"]),
            "stop": gr.Button("Stop", variant="stop", elem_id="stop", min_width=0, elem_classes=["ink-compact"]),
            "continue": gr.Button("Continue", elem_id="continue", min_width=0, elem_classes=["ink-compact"]),
            "regenerate": gr.Button("Regenerate", elem_id="regenerate", min_width=0, elem_classes=["ink-compact"]),
            "undo": gr.Button("Undo", elem_id="undo", min_width=0, elem_classes=["ink-compact"]),
            "new": gr.Button("New piece", elem_id="new-piece", min_width=0, elem_classes=["ink-compact"]),
        }


def _takes_row() -> tuple[gr.Markdown, gr.Button, gr.Markdown, gr.Button]:
    with gr.Row(equal_height=True, elem_id="takes-row"):
        words = gr.Markdown(counts(""), elem_id="counts")
        previous = gr.Button("◀", size="sm", elem_id="prev-alt", min_width=0, scale=0)
        label = gr.Markdown(Draft().label(), elem_id="alt-label")
        following = gr.Button("▶", size="sm", elem_id="next-alt", min_width=0, scale=0)
    return words, previous, label, following


def build_write_tab(services: Services, viewer: gr.State, draft: gr.State) -> WriteTab:
    """Render the tab and wire its events."""
    prompt = gr.Textbox(lines=3, label="Prompt", placeholder="What should I write? (Ctrl+Enter writes, Esc stops)",
                        elem_id="prompt")
    panel = build_controls(services.gallery)
    buttons = _buttons()
    status = gr.Markdown(elem_id="status", elem_classes=["ink-status"])
    output = gr.Textbox(lines=14, label="Text (yours to edit)", interactive=True, buttons=["copy"],
                        elem_id="output")
    words, previous, take_label, following = _takes_row()
    rendered = gr.Markdown(elem_id="rendered", visible=False)
    markdown = gr.Checkbox(False, label="Show as formatted text (Markdown)", elem_id="show-markdown")
    build_gallery(services.gallery, panel.style, prompt)
    lock = [buttons[m] for m in (*MODES, "undo")]
    inputs = [viewer, draft, prompt, output, panel.style, *panel.sliders(), *panel.blend.values]
    outputs = [output, draft, take_label, status, words]
    events = []
    for mode in MODES:
        locked = buttons[mode].click(lambda: [gr.update(interactive=False)] * len(lock), None, lock, queue=False)
        restored = locked.then(restoring(services), viewer, viewer, queue=False)
        run = restored.then(partial(run_take, services, mode), inputs, outputs, show_progress="hidden",
                            api_name=f"{mode}_text")
        run.then(lambda: [gr.update(interactive=True)] * len(lock), None, lock, queue=False).then(
            render, [output, markdown], rendered, queue=False)
        events.append(run)
    wire_stop(buttons["stop"], events, status, lock)
    buttons["undo"].click(restoring(services), viewer, viewer, queue=False).then(
        partial(undo, services), [viewer, draft], outputs, queue=False)
    for typed in (output.input, output.blur):  # blur too: Gradio skips the first input after a streamed value
        typed(partial(edit, services), [viewer, draft, output], [draft, words], trigger_mode="always_last",
              show_progress="hidden", queue=False)
    previous.click(lambda d: browse(services, d, -1), draft, [output, draft, take_label, words], queue=False)
    following.click(lambda d: browse(services, d, +1), draft, [output, draft, take_label, words], queue=False)
    unsent = partial(keep_unsent, services)
    for typed in (prompt.input, panel.style.input):
        typed(unsent, [viewer, prompt, panel.style], None, trigger_mode="always_last", show_progress="hidden",
              queue=False)
    buttons["new"].click(new_piece, outputs=[prompt, output, draft, take_label, status, words], cancels=events,
                         queue=False).then(unsent, [viewer, prompt, panel.style], None, queue=False)
    markdown.change(render, [output, markdown], rendered, queue=False)
    output.blur(render, [output, markdown], rendered, queue=False)
    return WriteTab(prompt, output, take_label, status, words, panel)
