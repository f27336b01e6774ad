"""``inkwell serve``: the OpenAI-compatible server, with vLLM's flag names."""

from __future__ import annotations

import argparse
import json
import logging

from app.settings import Settings

log = logging.getLogger(__name__)

_S = argparse.SUPPRESS  # unset flags fall back to INKWELL_* variables, then to Settings' defaults


def parse_lora_module(text: str) -> dict[str, str]:
    """``name=path`` or JSON ``{"name", "path"[, "base_model_name"]}`` -> a dict (argparse type)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            module = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"--lora-modules: invalid JSON {text!r}: {exc}") from None
    else:
        name, sep, path = text.partition("=")
        module = {"name": name, "path": path} if sep else {}
    if not (isinstance(module, dict) and module.get("name") and module.get("path")):
        raise argparse.ArgumentTypeError(f"--lora-modules expects name=path or JSON with name and path, got {text!r}")
    return {k: str(v) for k, v in module.items()}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the serve flags."""
    add = parser.add_argument
    add("--model", default=_S, help="embedded model name or HF folder (default smollm2-135m)")
    add("--served-model-name", default=_S, help="the base model's name in the API (default: --model)")
    add("--enable-lora", action=argparse.BooleanOptionalAction, default=_S, help="serve adapters (default on)")
    add("--lora-modules", nargs="+", type=parse_lora_module, default=_S, metavar="NAME=PATH|JSON",
        help="adapters to serve from the start")
    add("--max-loras", type=int, default=_S, help="adapters resident on the device at once")
    add("--max-lora-rank", type=int, default=_S, help="largest adapter rank accepted")
    add("--max-cpu-loras", type=int, default=_S, help="most adapters cached in host memory (default: no count bound)")
    add("--lora-cache-memory-gb", type=float, default=_S,
        help="host memory for loaded adapters in GiB, least recently used evicted first (default 4)")
    add("--styles-dir", default=_S, help="folder of styles served by name (default: the packaged styles)")
    add("--host", default=_S, help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=_S, help="port (default 7860)")
    add("--api-key", default=_S, help="require this bearer key on /v1 (env INKWELL_API_KEY)")
    add("--allow-guests", action=argparse.BooleanOptionalAction, default=_S,
        help="guest mode and the embed for visitors without an account (default: on, off with --api-key)")
    add("--admin-key", default=_S, help="key for adapter management (env INKWELL_ADMIN_KEY)")
    add("--session-secret", default=_S,
        help="secret signing the UI's session cookies (env INKWELL_SESSION_SECRET; default: kept beside the DB)")
    add("--adapter-roots", nargs="+", default=_S, metavar="DIR",
        help="folders runtime adapters may be loaded from (env INKWELL_ADAPTER_ROOTS, colon-separated)")
    add("--dtype", default=_S, choices=["auto", "float32", "bfloat16", "float16"], help="weights dtype")
    add("--device", default=_S, choices=["auto", "cpu", "cuda"], help="where the model runs (default auto)")
    add("--kv-cache-memory-gb", type=float, default=_S, help="paged KV cache budget in GiB")
    add("--max-num-batched-tokens", type=int, default=_S, help="tokens per step (chunked prefill budget)")
    add("--max-model-len", type=int, default=_S, help="context length")
    add("--max-num-seqs", type=int, default=_S, help="sequences per batch")
    add("--enable-prefix-caching", action=argparse.BooleanOptionalAction, default=_S,
        help="reuse cached keys/values of shared prompt prefixes, per adapter (default on)")
    add("--max-waiting", type=int, default=_S, help="requests queued beyond a full batch before 503")
    add("--max-request-bytes", type=int, default=_S, help="largest API request body (default 1 MiB; 413 beyond)")
    add("--threads", type=int, default=_S, help="torch CPU threads")
    add("--database-url", default=_S, help="SQLAlchemy URL (default: SQLite in the data folder)")
    add("--guest-retention-days", type=float, default=_S,
        help="delete guest accounts idle this long at start (default 7)")
    add("--engine-url", default=_S, help="OpenAI-compatible /v1 URL the UI streams from (default: this server)")
    add("--share", action="store_true", default=_S, help="make a public share link for the UI")
    add("--embed-origins", nargs="+", default=_S, metavar="ORIGIN", help="sites allowed to embed the UI")
    add("--no-ui", dest="enable_ui", action="store_false", default=_S, help="serve the API only")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the flags given (the rest from the environment and defaults)."""
    given = {k: v for k, v in vars(args).items() if k not in ("command", "log_level")}
    return Settings(**given)


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with the app; SIGTERM or Ctrl+C ends open streams (stored as aborted) and exits
    within seconds, even with browser tabs still open."""
    import uvicorn

    from app.lifecycle import GRACE_S, StoppingServer
    from app.main import create_app

    settings = settings_from_args(args)
    log.info("serving on http://%s:%d", settings.host, settings.port)
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=GRACE_S)
    StoppingServer(config, app.state.stopping).run()
    return 0
