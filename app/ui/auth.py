"""Sign up, log in, guest mode and log out: who this browser tab writes as.

Each sign-in callback returns (viewer, sign-in panel, app panel, who-am-I line, status line,
username, password, session token). The viewer lives in a per-tab ``gr.State``; the token, signed by
the server, is handed to ``POST /ui/session`` by the page, which keeps it as an HttpOnly cookie, so a
reload or a server restart finds the writer again (``restore``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.services import Services
from app.ui.session_cookie import COOKIE
from app.ui.store import Viewer
from app.ui.writer import warn

MIN_PASSWORD = 8
NO_GUESTS = "Guest mode is off on this server: log in, or ask whoever runs it for an account."
# Run in the page after a sign-in / log-out: keep or drop the HttpOnly cookie, then forget the token.
KEEP_SESSION_JS = """(token) => { if (token) { fetch('/ui/session', {method: 'POST', credentials: 'same-origin',
  headers: {'content-type': 'application/json'}, body: JSON.stringify({token})}); } return ''; }"""
# After log-out a closed server (app.gate) answers the page's own requests 401: go to its sign-in page.
END_SESSION_JS = """() => { fetch('/ui/session', {method: 'DELETE', credentials: 'same-origin'})
  .then(() => fetch('/config', {credentials: 'same-origin'}))
  .then((r) => { if (r.status === 401) { window.location.assign('/ui/login'); } }); return ''; }"""


def who_line(viewer: Viewer) -> str:
    """The 'Writing as …' line."""
    return f"Writing as **{viewer.name}**" + (" (guest account for demos)" if viewer.is_guest else "")


def token_for(services: Services, viewer: Viewer) -> str:
    """A signed session token for the viewer ('' when the server signs none)."""
    return services.signer.sign(viewer.user_id, viewer.name) if services.signer else ""


def _signed_in(services: Services, viewer: Viewer, status: str) -> tuple[Any, ...]:
    return (viewer, gr.update(visible=False), gr.update(visible=True), who_line(viewer), status, "", "",
            token_for(services, viewer))


def _refused(message: str) -> tuple[Any, ...]:
    return None, gr.update(visible=True), gr.update(visible=False), "", warn(message), gr.update(), gr.update(), ""


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
    return _signed_in(services, viewer, f"Welcome, {viewer.name}! Your account is ready.")


def log_in(services: Services, username: str, password: str) -> tuple[Any, ...]:
    """Sign in with an existing account."""
    try:
        viewer = services.store.log_in((username or "").strip(), password or "")
    except ValueError as exc:
        return _refused(str(exc))
    return _signed_in(services, viewer, f"Welcome back, {viewer.name}.")


def as_guest(services: Services) -> tuple[Any, ...]:
    """Sign in as a fresh guest (for demos), unless the server lets no guests in."""
    if not services.guests:
        return _refused(NO_GUESTS)
    return _signed_in(services, services.store.guest(), "You are writing as a guest.")


def log_out() -> tuple[Any, ...]:
    """Forget the viewer in this tab and clear the sign-in form (the page drops the cookie)."""
    return None, gr.update(visible=True), gr.update(visible=False), "", "Logged out.", "", "", ""


def from_cookie(services: Services, request: gr.Request | None) -> Viewer | None:
    """The viewer a verified session cookie names, or None."""
    if services.signer is None or request is None:
        return None
    cookies = getattr(request, "cookies", None) or {}
    claim = services.signer.verify(cookies.get(COOKIE))
    return services.store.viewer(*claim) if claim else None


def restore(services: Services, viewer: Viewer | None, request: gr.Request | None) -> Viewer | None:
    """The tab's viewer, or the cookie's when the tab lost it (a reload, a server restart)."""
    return viewer if viewer is not None else from_cookie(services, request)
