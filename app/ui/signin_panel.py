"""The sign-in panel: log in, sign up, or continue as a guest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from app.ui import auth
from app.ui.services import Services


@dataclass(frozen=True)
class SignInPanel:
    """The panel's column, fields and buttons."""

    column: gr.Column
    username: gr.Textbox
    password: gr.Textbox
    log_in: gr.Button
    sign_up: gr.Button
    guest: gr.Button
    status: gr.Markdown
    token: gr.Textbox

    def wire(self, services: Services, outputs: list[Any]) -> None:
        """Route each action's (viewer, panel, app, who, status) result to ``outputs`` (then the fields and
        the token, which the page keeps as a cookie).

        Off the queue (a plain request and its answer): the actions are instant, and a click that came as
        Gradio's event stream closed was lost on the queue, leaving the sign-in (or log-out) pending forever.
        """
        fields = [self.username, self.password]
        outputs = [*outputs, self.username, self.password, self.token]
        for event, fn in ((self.log_in.click, auth.log_in), (self.password.submit, auth.log_in),
                          (self.sign_up.click, auth.sign_up)):
            event(partial(fn, services), fields, outputs, queue=False).then(
                None, self.token, self.token, js=auth.KEEP_SESSION_JS)
        self.guest.click(partial(auth.as_guest, services), None, outputs, queue=False).then(
            None, self.token, self.token, js=auth.KEEP_SESSION_JS)


def build_signin(guests: bool = True) -> SignInPanel:
    """Render the (initially hidden) panel; the layout wires it once the app column exists (no guest
    button when the server lets no guests in)."""
    with gr.Column(visible=False, elem_id="signin") as column:
        gr.Markdown("## Welcome to Inkwell\nLog in, create an account, or try it as a guest.")
        username = gr.Textbox(label="Username", elem_id="username")
        password = gr.Textbox(label="Password", type="password", elem_id="password")
        with gr.Row():
            log_in = gr.Button("Log in", variant="primary", elem_id="log-in")
            sign_up = gr.Button("Sign up", elem_id="sign-up")
            guest = gr.Button("Continue as guest", elem_id="guest", visible=guests)
        status = gr.Markdown(elem_id="auth-status")
    token = gr.Textbox(visible=False, elem_id="session-token")
    return SignInPanel(column, username, password, log_in, sign_up, guest, status, token)
