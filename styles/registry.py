"""Discover every ``<id>/style.toml`` under a folder; a broken manifest is recorded, never fatal."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from styles.manifest import MANIFEST_NAME, ManifestError, Style, load_manifest

log = logging.getLogger(__name__)

STYLES_DIR = Path(__file__).resolve().parent


@dataclass
class StyleRegistry:
    """The valid styles by id, and the broken manifests (path -> message)."""

    styles: dict[str, Style] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, style_id: str) -> Style:
        """The style with this id; KeyError naming the known ids otherwise."""
        try:
            return self.styles[style_id]
        except KeyError:
            known = ", ".join(sorted(self.styles)) or "none"
            raise KeyError(f"unknown style {style_id!r}; known styles: {known}") from None

    def trained(self, ids: list[str] | None = None) -> list[Style]:
        """The styles with a trained adapter, by id: those named in ``ids`` (in that order), else all;
        ValueError naming any id that is unknown or has no adapter."""
        if not ids:
            return [style for _, style in sorted(self.styles.items()) if style.adapter_path]
        if missing := [i for i in ids if i not in self.styles or self.styles[i].adapter_path is None]:
            raise ValueError(f"styles without a trained adapter: {', '.join(missing)}")
        return [self.styles[i] for i in ids]


def load_styles(directory: Path | None = None) -> StyleRegistry:
    """Load every manifest one folder below ``directory`` (default: the packaged styles)."""
    root = Path(directory) if directory is not None else STYLES_DIR
    if not root.is_dir():
        raise FileNotFoundError(f"styles directory {root} does not exist")
    registry = StyleRegistry()
    for path in sorted(root.glob(f"*/{MANIFEST_NAME}")):
        try:
            style = load_manifest(path)
            if style.id != path.parent.name:
                raise ManifestError(f"{path}: id {style.id!r} differs from its folder name {path.parent.name!r}")
            registry.styles[style.id] = style
        except ManifestError as exc:
            registry.errors[str(path)] = str(exc)
            log.warning("skipping style: %s", exc)
    return registry
