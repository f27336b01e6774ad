"""The collaborators every UI callback needs, bundled once at mount time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.client import EngineClient
from app.ui.gallery import Gallery
from app.ui.session_cookie import SessionSigner
from app.ui.store import Store


@dataclass(frozen=True)
class Services:
    """The engine client, storage and style gallery the callbacks share.

    ``signer`` signs the session cookies (None: sign-ins last as long as the tab); ``stopping`` is set
    when the server begins to stop, so replies cut off by it are stored as aborted, not failed; ``guests``
    is False when visitors need an account (no guest mode, no embed for strangers); ``count_tokens`` counts
    a text's tokens with the served model's tokenizer (None: no tokenizer here, words only)."""

    client: EngineClient
    store: Store
    gallery: Gallery
    signer: SessionSigner | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    guests: bool = True
    count_tokens: Callable[[str], int | None] = field(default=lambda text: None)
