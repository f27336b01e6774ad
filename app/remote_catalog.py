"""The UI's catalog with ``--engine-url``: what the remote ``/v1/models`` serves, joined with the local
style metadata (display name, description, examples, system prompt, defaults) where names match.

A vLLM or SGLang server knows adapters, not styles: the UI's requests then carry the style's system
prompt and sampling defaults themselves (``style_body``), and leave out ``lora_scale``, which only
Inkwell applies per request, so the UI hides its strength slider. A style blend (``styles``), which such a
server would silently ignore, is refused with a 400 ``EngineError`` before anything is sent.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx

from app.catalog import Catalog, CatalogEntry, UnknownModel, base_entry, with_system_prompt
from app.client import BodyHook, EngineClient, EngineError, client_from_settings, engine_base_url
from app.usage import UsageRecorder

log = logging.getLogger(__name__)

LORA_SCALE_OWNERS = frozenset({"inkwell"})  # ``owned_by`` of servers that apply a per-request lora_scale
FETCH_TIMEOUT_S = 10.0
BLENDS_UNSUPPORTED = ("Style blends need an Inkwell engine: the engine at --engine-url (vLLM or SGLang) runs one "
                      "adapter per request. Pick a single style, or serve with Inkwell's own engine.")


def fetch_model_cards(base_url: str, api_key: str | None, timeout: float = FETCH_TIMEOUT_S) -> list[dict[str, Any]]:
    """The ``data`` of ``GET {base_url}/models``; ``httpx.HTTPError`` if it cannot be read."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.get(f"{base_url.rstrip('/')}/models", headers=headers, timeout=timeout)
    response.raise_for_status()
    return list(response.json().get("data", []))


def join_remote(cards: list[dict[str, Any]], local: Catalog) -> Catalog:
    """A catalog of the remote cards: its base, and every adapter (or style) as a style the writer can
    pick, with the local metadata of the style of the same name when there is one."""
    bases = [card for card in cards if not card.get("parent") and card.get("kind", "base") == "base"]
    base_card = bases[0] if bases else {"id": local.base.name, "root": local.base.root}
    catalog = Catalog(base_entry(str(base_card["id"]), str(base_card.get("root") or base_card["id"])))
    for card in cards:
        if card is base_card or str(card.get("id")) == catalog.base.name:
            continue
        catalog.add(_remote_entry(card, local))
        catalog.set_usage(str(card["id"]), local.usage(str(card["id"])))
    return catalog


def _remote_entry(card: dict[str, Any], local: Catalog) -> CatalogEntry:
    name = str(card["id"])
    scalable = card.get("owned_by") in LORA_SCALE_OWNERS
    known = _find(local, name)
    if known is not None and known.kind != "style":
        known = None
    root = str(card.get("root") or name)
    if known is None:
        return CatalogEntry(name=name, kind="style", root=root, has_adapter=True, display_name=name,
                            lora_scale_supported=scalable)
    return replace(known, root=root, has_adapter=True, lora_scale_supported=scalable)


def style_body(catalog: Catalog) -> BodyHook:
    """A request-body rewrite adding what the chosen style means to a server that only knows adapters."""

    def prepare(body: dict[str, Any]) -> dict[str, Any]:
        entry = _find(catalog, str(body.get("model")))
        if body.get("styles") and (entry is None or not entry.lora_scale_supported):
            raise EngineError(BLENDS_UNSUPPORTED, status=400)
        if entry is None:
            return body
        prepared = {**entry.defaults, **body}
        prepared["messages"] = with_system_prompt(list(body.get("messages", [])), entry.system_prompt)
        if not entry.lora_scale_supported:
            prepared.pop("lora_scale", None)
        return prepared

    return prepare


def _find(catalog: Catalog, name: str) -> CatalogEntry | None:
    try:
        return catalog.get(name)
    except UnknownModel:
        return None


def remote_ui(settings: Any, local: Catalog, usage: UsageRecorder) -> tuple[Catalog, EngineClient]:
    """The UI's catalog and engine client for ``settings.engine_url``.

    If the remote cannot be read at start, the UI lists the local styles (requests still go remote)."""
    base_url = engine_base_url(settings)
    try:
        catalog = join_remote(fetch_model_cards(base_url, settings.api_key), local)
    except (httpx.HTTPError, ValueError) as exc:
        log.error("could not list the models at %s (%s); the UI shows the local styles", base_url, exc)
        catalog = local
    log.info("UI catalog from %s: %s", base_url, ", ".join(e.name for e in catalog.styles()))
    return catalog, client_from_settings(settings, prepare=style_body(catalog), on_usage=usage.record)
