"""Server settings: command-line flags win over ``INKWELL_*`` environment variables over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import styles
from db.repo_users import GUEST_RETENTION_DAYS

PACKAGED_STYLES_DIR = Path(styles.__file__).resolve().parent


class Settings(BaseSettings):
    """Everything ``inkwell serve`` can be told. ``INKWELL_ADAPTER_ROOTS`` is colon-separated."""

    model_config = SettingsConfigDict(env_prefix="INKWELL_", extra="forbid")

    model: str = "smollm2-135m"
    served_model_name: str | None = None  # the base's name in the API; default: --model's value
    dtype: str = "auto"
    device: str = "auto"
    kv_cache_memory_gb: float | None = Field(default=None, gt=0)  # paged KV cache budget in GiB
    max_num_batched_tokens: int | None = Field(default=None, ge=1)  # per-step token budget
    max_model_len: int | None = None
    max_num_seqs: int = 16
    enable_prefix_caching: bool = True  # reuse the keys/values of prompt prefixes already computed
    threads: int | None = None
    enable_lora: bool = True
    lora_modules: list[dict[str, str]] = Field(default_factory=list)  # {"name","path"[,"base_model_name"]}
    max_loras: int = 8
    max_lora_rank: int = 16
    max_cpu_loras: int | None = None  # a count bound on the host cache of adapters, beside its bytes
    lora_cache_memory_gb: float | None = Field(default=None, gt=0)  # host cache of loaded adapters in GiB
    styles_dir: Path = PACKAGED_STYLES_DIR
    adapter_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=0, le=65535)
    api_key: str | None = None
    allow_guests: bool | None = None  # guest mode and the embed without an account; default: on unless api_key
    admin_key: str | None = None
    session_secret: str | None = None  # signs the UI's session cookies; default: a secret kept beside the DB
    database_url: str | None = None
    engine_url: str | None = None  # the UI streams from this OpenAI-compatible /v1 instead of ours
    enable_ui: bool = True  # mount the Gradio UI (app.ui) when it is installed
    share: bool = False
    embed_origins: list[str] = Field(default_factory=list)
    max_waiting: int = Field(default=64, ge=0)  # requests queued beyond max_num_seqs before 503
    retry_after_s: float = Field(default=1.0, gt=0)
    max_n: int = Field(default=8, ge=1)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1)  # API bodies beyond this: 413, never parsed
    guest_retention_days: float = Field(default=GUEST_RETENTION_DAYS, gt=0)  # idle guests deleted at start

    @field_validator("adapter_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(":") if part]
        return value

    @property
    def guests_allowed(self) -> bool:
        """Whether the writer's app lets visitors in without an account (guest mode, the embed): as told,
        else only when no API key closes the server."""
        return self.allow_guests if self.allow_guests is not None else self.api_key is None

    @property
    def base_model_name(self) -> str:
        """The name clients use for the base model."""
        return self.served_model_name or self.model

    def all_adapter_roots(self) -> list[Path]:
        """Folders runtime adapters may be loaded from, resolved; the styles folder is always one."""
        roots = [*self.adapter_roots, self.styles_dir]
        return list(dict.fromkeys(Path(root).expanduser().resolve() for root in roots))
