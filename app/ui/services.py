"""The collaborators every UI callback needs, bundled once at mount time."""

from __future__ import annotations

from dataclasses import dataclass

from app.client import EngineClient
from app.ui.gallery import Gallery
from app.ui.store import Store


@dataclass(frozen=True)
class Services:
    """The engine client, storage and style gallery the callbacks share."""

    client: EngineClient
    store: Store
    gallery: Gallery
