"""Runtime adapter management (vLLM's endpoints); requires the admin key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.adapter_manager import load_adapter, unload_adapter
from app.catalog import NameTaken, UnknownModel
from app.deps import AppState, get_state, require_admin_key
from app.errors import APIError, bad_request, error_responses
from app.routes.openai import model_card
from app.schemas import LoadAdapterRequest, UnloadAdapterRequest

router = APIRouter(prefix="/v1", dependencies=[Depends(require_admin_key)],
                   responses=error_responses(400, 401, 403, 404, 413, 503))


@router.post("/load_lora_adapter")
async def load_lora_adapter(body: LoadAdapterRequest, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Load a PEFT adapter folder (under an adapter root) and serve it as ``lora_name``."""
    try:
        model = await load_adapter(state, body.lora_name, body.lora_path)
    except NameTaken as exc:
        raise bad_request(str(exc), "lora_name") from None
    except ValueError as exc:
        raise bad_request(str(exc), "lora_path") from None
    return model_card(model, state.catalog.base)


@router.post("/unload_lora_adapter")
async def unload_lora_adapter(body: UnloadAdapterRequest, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Stop serving a runtime adapter."""
    try:
        model = await unload_adapter(state, body.lora_name)
    except UnknownModel:
        raise APIError(404, f"no runtime adapter named {body.lora_name!r}", param="lora_name",
                       code="model_not_found") from None
    except ValueError as exc:
        raise bad_request(str(exc), "lora_name") from None
    return {"id": model.name, "object": "model", "deleted": True}
