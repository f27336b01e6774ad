"""Confine runtime adapter paths to the configured adapter roots."""

from __future__ import annotations

from pathlib import Path


def resolve_under_roots(path: str, roots: list[Path]) -> Path:
    """Resolve ``path`` (symlinks and ``..`` included) and require it inside one of ``roots``.

    Raises ``ValueError`` naming the path when it escapes every root or does not exist.
    """
    if not path or "\x00" in path:
        raise ValueError(f"lora_path is not a valid path: {path!r}")
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise ValueError(f"lora_path {path!r} resolves to {resolved}, outside the adapter roots ({allowed})")
    if not resolved.is_dir():
        raise ValueError(f"lora_path {path!r} is not an existing adapter folder")
    return resolved
