"""A style's default strength (``lora_scale`` in its defaults) is the scale a request runs at unless it sends one."""

from __future__ import annotations

import pytest

from app.blends import adapter_request
from app.catalog import Catalog, CatalogEntry, base_entry
from app.schemas import ChatCompletionRequest

VERSE = CatalogEntry(name="verse", kind="style", root="/adapters/verse", has_adapter=True,
                     defaults={"temperature": 0.7, "lora_scale": 1.3})
PLAIN = CatalogEntry(name="plain", kind="style", root="/adapters/plain", has_adapter=True, defaults={})


def request(model: str, **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest(model=model, messages=[{"role": "user", "content": "Sea"}], **fields)


@pytest.mark.parametrize(("entry", "fields", "scale"), [
    (VERSE, {}, 1.3),  # the style's own default
    (VERSE, {"lora_scale": 0.5}, 0.5),  # the request's value wins
    (VERSE, {"strength": 0.0}, 0.0),  # so does its alias, even 0 (the plain base)
    (PLAIN, {}, 1.0),  # no default named: the adapter as trained
])
def test_the_request_runs_at_its_own_or_the_styles_strength(entry: CatalogEntry, fields: dict, scale: float) -> None:
    catalog = Catalog(base_entry("tiny", "/models/tiny"))
    catalog.add(entry)
    assert adapter_request(catalog, request(entry.name, **fields), entry).lora_scale == scale
