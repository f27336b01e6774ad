"""Export files live one folder each under a private root that prunes exports older than an hour."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.ui.export import KEEP_S, export_folder


def test_old_exports_are_pruned_and_fresh_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    old, fresh = export_folder(root), export_folder(root)
    (old / "a.md").write_text("old")
    (fresh / "b.md").write_text("fresh")
    now = time.time()
    os.utime(old, (now - KEEP_S - 60, now - KEEP_S - 60))
    new = export_folder(root, now=now)
    assert not old.exists() and (fresh / "b.md").read_text() == "fresh"
    assert new.parent == root and new.is_dir() and (root.stat().st_mode & 0o777) == 0o700


def test_a_root_that_is_a_link_is_not_used(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "exports").symlink_to(elsewhere)
    folder = export_folder(tmp_path / "exports")
    assert folder.is_dir() and folder.parent != elsewhere and not list(elsewhere.iterdir())
    folder.rmdir()
