"""Sign up, log in, guest mode and log out: who this browser tab writes as.

Each callback returns (viewer, sign-in panel, app panel, who-am-I line, status line); the viewer
lives in a per-tab ``gr.State``, so closing the tab logs out.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.services import Services
from app.ui.store import Viewer
from app.ui.writer import warn

MIN_PASSWORD = 8


def _signed_in(viewer: Viewer, status: str) -> tuple[Any, ...]:
    who = f"Writing as **{viewer.name}**" + (" (guest account for demos)" if viewer.is_guest else "")
    return viewer, gr.update(visible=False), gr.update(visible=True), who, status


def _refused(message: str) -> tuple[Any, ...]:
    return None, gr.update(visible=True), gr.update(visible=False), "", warn(message)


def check_credentials(username: str, password: str) -> tuple[str, str]:
    """Trimmed username and password, or ValueError in words."""
    username = (username or "").strip()
    if not username:
        raise ValueError("Type a username.")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"The password needs at least {MIN_PASSWORD} characters.")
    return username, password


def sign_up(services: Services, username: str, password: str) -> tuple[Any, ...]:
    """Create an account and sign in with it."""
    try:
        viewer = services.store.sign_up(*check_credentials(username, password))
    except ValueError as exc:
        return _refused(str(exc))
    return _signed_in(viewer, f"Welcome, {viewer.name}! Your account is ready.")


def log_in(services: Services, username: str, password: str) -> tuple[Any, ...]:
    """Sign in with an existing account."""
    try:
        viewer = services.store.log_in((username or "").strip(), password or "")
    except ValueError as exc:
        return _refused(str(exc))
    return _signed_in(viewer, f"Welcome back, {viewer.name}.")


def as_guest(services: Services) -> tuple[Any, ...]:
    """Sign in as a fresh guest (for demos)."""
    return _signed_in(services.store.guest(), "You are writing as a guest.")


def log_out() -> tuple[Any, ...]:
    """Forget the viewer in this tab."""
    return None, gr.update(visible=True), gr.update(visible=False), "", "Logged out."
