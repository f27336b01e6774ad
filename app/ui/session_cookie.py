"""Signed session cookies: a writer stays signed in across a page reload and a server restart.

The token is ``<user id>.<username>.<issued at>.<signature>``: an HMAC-SHA256 over the first three
parts with a server secret. The secret comes from the settings (``INKWELL_SESSION_SECRET``, for several
servers behind one address) or is made once and kept in a ``session-secret`` file next to the SQLite
database (else in the data folder), readable by its owner only. The server checks the signature,
the age and that the account still exists with that name before it trusts a cookie.

``session_router`` serves ``POST /ui/session`` (the page hands over the token it was given at sign-in;
the answer sets it as an HttpOnly cookie) and ``DELETE /ui/session`` (log out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from db.base import data_dir, database_url

COOKIE = "inkwell_session"
MAX_AGE_S = 30 * 24 * 3600
SECRET_FILE = "session-secret"


def secret_path(url: str | None) -> Path:
    """Where the secret is kept for a database URL: beside a SQLite file, else in the data folder."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).expanduser().resolve().parent / SECRET_FILE
    return data_dir() / SECRET_FILE


def load_secret(path: Path) -> bytes:
    """The secret in ``path``, made there (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SessionSigner:
    """Signs and checks session tokens with one secret."""

    secret: bytes
    max_age_s: int = MAX_AGE_S

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def sign(self, user_id: int, username: str, now: float | None = None) -> str:
        """A fresh token for this account."""
        payload = f"{user_id}.{username}.{int(now if now is not None else time.time())}"
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: str | None, now: float | None = None) -> tuple[int, str] | None:
        """(user id, username) of a well-signed, unexpired token; None for anything else."""
        payload, _, signature = (token or "").rpartition(".")
        user_id, _, rest = payload.partition(".")
        username, _, issued = rest.rpartition(".")
        if not (user_id.isdigit() and issued.isdigit() and username):
            return None
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        age = (now if now is not None else time.time()) - int(issued)
        if not 0 <= age <= self.max_age_s:
            return None
        return int(user_id), username


class _Token(BaseModel):
    token: str


def session_router(signer: SessionSigner) -> APIRouter:
    """``POST /ui/session`` sets a verified token as the cookie; ``DELETE /ui/session`` clears it."""
    router = APIRouter()

    @router.post("/ui/session", include_in_schema=False, status_code=204)
    async def keep_session(body: _Token, request: Request) -> Response:
        response = Response(status_code=204 if signer.verify(body.token) else 400)
        if response.status_code == 204:
            response.set_cookie(COOKIE, body.token, max_age=signer.max_age_s, httponly=True, samesite="lax",
                                secure=request.url.scheme == "https", path="/")
        return response

    @router.delete("/ui/session", include_in_schema=False, status_code=204)
    async def end_session() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
