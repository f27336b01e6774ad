"""The sign-in page of a closed writer's app (``GET``/``POST /ui/login``): a plain HTML form, since the
Gradio page itself is closed to anyone not signed in (``app.gate``).

Logging in needs an account; creating one also needs the server's API key, so only someone trusted
with the key can let new writers in. A success sets the signed session cookie and goes to ``/``.
"""

from __future__ import annotations

import hmac
import html
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.ui.auth import check_credentials
from app.ui.session_cookie import COOKIE, SessionSigner
from app.ui.store import Store, Viewer

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · Inkwell</title>
<style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#222}}
label{{display:block;margin:.8rem 0 .2rem}} input{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin:1rem .4rem 0 0;padding:.5rem 1rem}} .status{{color:#a33;min-height:1.2rem}}
.meta{{color:#666;font-size:.85rem}}</style></head>
<body><h1>✒️ Inkwell</h1><p>This Inkwell is private: log in to write.</p>
<form method="post" action="/ui/login" id="login">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" value="{name}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<label for="key">Server key <span class="meta">(only to create an account)</span></label>
<input id="key" name="key" type="password" autocomplete="off">
<button id="log-in" name="action" value="login" type="submit">Log in</button>
<button id="sign-up" name="action" value="signup" type="submit">Create account</button>
<p class="status" id="login-status">{status}</p></form></body></html>"""
NEEDS_KEY = "Creating an account needs the server key: ask whoever runs this Inkwell."


def render(status: str = "", name: str = "") -> str:
    """The sign-in page with a status line (escaped)."""
    return PAGE.format(status=html.escape(status), name=html.escape(name))


def _account(store: Store, api_key: str, action: str, username: str, password: str, key: str) -> Viewer:
    """The account a form submission opens (or creates); ValueError in words when it can't."""
    if action == "signup":
        if not hmac.compare_digest(key.encode(), api_key.encode()):
            raise ValueError(NEEDS_KEY)
        return store.sign_up(*check_credentials(username, password))
    return store.log_in(username.strip(), password)


def login_router(store: Store, signer: SessionSigner, api_key: str) -> APIRouter:
    """``GET /ui/login`` shows the form; ``POST /ui/login`` signs in (cookie, then ``/``) or says why not."""
    router = APIRouter()

    @router.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form() -> HTMLResponse:
        return HTMLResponse(render())

    @router.post("/ui/login", include_in_schema=False, response_model=None)
    def log_in(request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
               key: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "login") -> Response:
        try:
            viewer = _account(store, api_key, action, username, password, key)
        except ValueError as exc:  # StoreError included
            return HTMLResponse(render(str(exc), username), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, signer.sign(viewer.user_id, viewer.name), max_age=signer.max_age_s,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/")
        return response

    return router
