"""Confine runtime adapter paths to the configured adapter roots."""

from __future__ import annotations

from pathlib import Path


def resolve_under_roots(path: str, roots: list[Path]) -> Path:
    """Resolve ``path`` (symlinks and ``..`` included) and require it inside one of ``roots``.

    Raises ``ValueError`` when it escapes every root or does not exist; the message shows no path
    (neither the folder it resolves to nor the roots).
    """
    if not path or "\x00" in path:
        raise ValueError("lora_path is not a valid path")
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise ValueError("lora_path is outside the adapter roots (--adapter-roots)")
    if not resolved.is_dir():
        raise ValueError("lora_path is not an existing adapter folder")
    return resolved
