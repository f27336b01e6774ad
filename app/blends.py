"""Which adapters a request runs with: its model's own at ``lora_scale`` (else the style's default strength),
or the style blend ``styles`` names.

``"model": "poetry", "styles": [{"name": "poetry", "weight": 0.7}, {"name": "legal", "weight": 0.3}]``
runs every token with ``0.7 * delta_poetry + 0.3 * delta_legal`` (an ``engine.LoRABlend``). The first style
is the request's ``model``, whose system prompt and sampling defaults apply. Every mistake is a 400 with
``param`` "styles".
"""

from __future__ import annotations

from app.catalog import Catalog, CatalogEntry, UnknownModel
from app.errors import APIError, bad_request
from app.schemas import SamplingFields
from engine.lora.request import AdapterRequest, LoRABlend
from styles.manifest import default_strength


def adapter_request(catalog: Catalog, body: SamplingFields, model: CatalogEntry) -> AdapterRequest | None:
    """The adapter (or blend) of a validated request whose ``model`` resolved to ``model``."""
    if body.styles is None:
        return model.lora_request(body.effective_lora_scale(default_strength(model.defaults)))
    first = body.styles[0].name
    if first != model.name:
        raise _blend_error(f"the first style must be the request's model {model.name!r} (its system prompt and "
                           f"defaults apply), got {first!r}")
    if body.lora_scale is not None or body.strength is not None:
        raise _blend_error("give each style's weight in styles, not lora_scale / strength")
    parts = [_blendable(catalog, style.name).lora_request(style.weight) for style in body.styles]
    return parts[0] if len(parts) == 1 else LoRABlend(parts)


def _blendable(catalog: Catalog, name: str) -> CatalogEntry:
    try:
        entry = catalog.get(name)
    except UnknownModel:
        served = [e.name for e in catalog.all() if e.has_adapter]
        raise _blend_error(f"unknown style {name!r}; styles that can be blended: {', '.join(served)}") from None
    if not entry.has_adapter:
        raise _blend_error(f"{name!r} has no adapter to blend (the base model, or a style on the plain base)")
    return entry


def _blend_error(message: str) -> APIError:
    return bad_request(f"styles: {message}", "styles")
