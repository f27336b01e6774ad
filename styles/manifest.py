"""A style's manifest (``styles/<id>/style.toml``): parsed and validated into a frozen ``Style``."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.lora.request import MAX_LORA_SCALE
from engine.sampling_params import SamplingParams

MANIFEST_NAME = "style.toml"
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SAMPLING_KEYS = frozenset(f.name for f in dataclasses.fields(SamplingParams))
STRENGTH_KEY = "lora_scale"  # [defaults] key of the style's default strength (adapter scale), beside sampling
# field -> expected TOML type(s); every one is required
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "display_name": str,
    "description": str,
    "system_prompt": str,
    "examples": list,
    "defaults": dict,
    "adapter": str,
    "base_model": str,
    "base_model_sha256": str,
    "version": str,
    "data_provenance": str,
    "license": str,
    "rank": int,
}


class ManifestError(ValueError):
    """A manifest that cannot become a Style; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Style:
    """One writing style: its prompt, sampling defaults and (optional) LoRA adapter folder."""

    id: str
    display_name: str
    description: str
    system_prompt: str
    examples: tuple[str, ...]
    defaults: dict[str, Any]
    adapter_path: Path | None  # a PEFT folder (adapter_config.json + adapter_model.safetensors)
    base_model: str
    base_model_sha256: str
    version: str
    data_provenance: str
    license: str
    rank: int

    @property
    def strength(self) -> float:
        """The adapter scale the style runs at unless a request sends one (chosen by ``inkwell tune-strength``)."""
        return default_strength(self.defaults)

    def sampling_params(self, **overrides: Any) -> SamplingParams:
        """The style's default SamplingParams with ``overrides`` applied."""
        return SamplingParams(**{**sampling_defaults(self.defaults), **overrides})


def default_strength(defaults: dict[str, Any]) -> float:
    """The default strength in a style's defaults (1.0, the adapter as trained, when it names none)."""
    return float(defaults.get(STRENGTH_KEY, 1.0))


def sampling_defaults(defaults: dict[str, Any]) -> dict[str, Any]:
    """A style's defaults without its strength: the SamplingParams fields."""
    return {key: value for key, value in defaults.items() if key != STRENGTH_KEY}


def load_manifest(path: Path) -> Style:
    """Parse and validate one ``style.toml``; raises ManifestError naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read TOML: {exc}") from exc
    try:
        return _validate(raw, path.parent)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None


def _validate(raw: dict[str, Any], folder: Path) -> Style:
    for name, kind in _FIELDS.items():
        if name not in raw:
            raise ManifestError(f"missing field {name!r}")
        if not isinstance(raw[name], kind) or isinstance(raw[name], bool):
            raise ManifestError(f"field {name!r} must be {kind.__name__}, got {type(raw[name]).__name__}")
    if unknown := sorted(raw.keys() - _FIELDS.keys()):
        raise ManifestError(f"unknown field(s) {', '.join(unknown)}")
    if not _ID.match(raw["id"]):
        raise ManifestError(f"id {raw['id']!r} must be lowercase letters, digits, '-' or '_'")
    examples = raw["examples"]
    if len(examples) != 3 or not all(isinstance(e, str) and e.strip() for e in examples):
        raise ManifestError("examples must be a list of exactly 3 non-empty prompts")
    if not 1 <= raw["rank"] <= 64:
        raise ManifestError(f"rank must be in [1, 64], got {raw['rank']}")
    check_defaults(raw["defaults"])
    fields = {k: raw[k] for k in _FIELDS if k != "adapter"}
    fields.update(examples=tuple(examples), adapter_path=_adapter_path(raw["adapter"], folder))
    return Style(**fields)


def check_defaults(defaults: dict[str, Any]) -> None:
    """Defaults must name SamplingParams fields (or the strength) with valid values; ManifestError saying which not."""
    if unknown := sorted(defaults.keys() - _SAMPLING_KEYS - {STRENGTH_KEY}):
        raise ManifestError(f"unknown sampling key(s) in [defaults]: {', '.join(unknown)}")
    strength = defaults.get(STRENGTH_KEY, 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= MAX_LORA_SCALE:
        raise ManifestError(f"bad [defaults]: {STRENGTH_KEY} must be a number in [0, {MAX_LORA_SCALE:g}], "
                            f"got {strength!r}")
    try:
        SamplingParams(**sampling_defaults(defaults))
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"bad [defaults]: {exc}") from None


def _adapter_path(adapter: str, folder: Path) -> Path | None:
    """The adapter folder relative to the manifest ('' means no adapter); it must hold a PEFT config."""
    if not adapter:
        return None
    path = (folder / adapter).resolve()
    if not (path / "adapter_config.json").is_file():
        raise ManifestError(f"adapter folder {path} is missing (no adapter_config.json)")
    return path


def set_fields(path: Path, values: dict[str, str | int]) -> None:
    """Rewrite top-level ``key = value`` lines of a manifest in place, keeping the rest of the file."""
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        if key not in _FIELDS or key in ("examples", "defaults"):
            raise ValueError(f"set_fields only rewrites scalar manifest fields, not {key!r}")
        line = f"{key} = {json.dumps(value, ensure_ascii=False)}"
        text, count = re.subn(rf"^{key}\s*=.*$", lambda _m, s=line: s, text, count=1, flags=re.M)
        if count == 0:
            raise ManifestError(f"{path}: no top-level line for {key!r} to rewrite")
    path.write_text(text, encoding="utf-8")


def set_strength(path: Path, strength: float) -> None:
    """Write a style's default strength into its manifest's ``[defaults]`` table, keeping the rest of the file."""
    text = path.read_text(encoding="utf-8")
    head, header, table = text.partition("\n[defaults]\n")
    if not header:
        raise ManifestError(f"{path}: no [defaults] table to hold {STRENGTH_KEY}")
    line = f"{STRENGTH_KEY} = {float(strength)!r}"
    table, count = re.subn(rf"^{STRENGTH_KEY}\s*=.*$", lambda _m: line, table, count=1, flags=re.M)
    path.write_text(head + header + (table if count else f"{line}\n{table}"), encoding="utf-8")
