"""The collaborators every UI callback needs, bundled once at mount time."""

from __future__ import annotations

from dataclasses import dataclass

from app.client import EngineClient
from app.ui.catalog import Catalog
from app.ui.store import Store


@dataclass(frozen=True)
class Services:
    """The engine client, storage and style catalog the callbacks share."""

    client: EngineClient
    store: Store
    catalog: Catalog
