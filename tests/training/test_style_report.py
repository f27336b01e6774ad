"""docs/STYLES.md: the tables, the all-styles figure and the 'Targets missed' section with figures."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli.eval_styles import TRIED, tried_notes
from styles.registry import STYLES_DIR, load_styles
from training.report import TrainingRow, write_report
from training.scoring import RunScore, StyleResult

RUNS = ("adapter_defaults", "adapter_greedy", "base_defaults")


def _result(style_id: str, own: float, marker: float | None, repeat: int = 1, sonnet: int = 14) -> StyleResult:
    score = RunScore(own=own, marker=marker, longest_repeat=3, max_4gram=repeat, distinct2=0.9)
    control = RunScore(own=0.1, marker=0.0 if marker is not None else None, longest_repeat=2, max_4gram=1,
                       distinct2=0.9)
    runs = {run: score if run.startswith("adapter") else control for run in RUNS}
    return StyleResult(style_id, "m" if marker is not None else None, runs, {run: sonnet for run in RUNS},
                       (("a request", "base reply", "adapter reply"),))


def test_misses_name_each_target_with_its_figure(tmp_path: Path) -> None:
    results = [_result("good", 0.9, 0.8), _result("weak", 0.5, 0.6, repeat=4), _result("poetry", 0.9, 0.9, sonnet=6)]
    out = tmp_path / "STYLES.md"
    write_report(results, 0.95, out, [TrainingRow("good", "inkwell train-style good --steps 9", 90.0, 10**6, 9, 1.5, 1.2)])
    text = out.read_text()
    missed = text.split("## Targets missed")[1].split("## Reproduce")[0]
    assert "**good**" not in missed
    assert "- **weak** misses own style (50%), marker (60%), repetition (4x)." in missed
    assert "- **poetry** misses sonnet (6 lines)." in missed
    assert "right style for 77% of adapter replies at the defaults" in text  # (0.9 + 0.5 + 0.9) / 3
    assert "| good | `inkwell train-style good --steps 9` | 9 | 90 | 1.200 | 1.500 | 1.00 MB |" in text
    assert "- adapter: adapter reply" in text and out.with_suffix(".png").stat().st_size > 1000


def test_no_miss_says_none(tmp_path: Path) -> None:
    out = tmp_path / "STYLES.md"
    write_report([_result("good", 0.9, None)], 0.9, out, [])
    assert "## Targets missed\n\n- none\n" in out.read_text()


def test_tried_note_follows_its_style_miss(tmp_path: Path) -> None:
    out = tmp_path / "STYLES.md"
    tried = {"weak": "300 steps:\n own style 50% -> 60%.", "good": "never shown: no miss"}
    write_report([_result("good", 0.9, None), _result("weak", 0.5, None)], 0.9, out, [], tried)
    missed = out.read_text().split("## Targets missed")[1].split("## Samples")[0]
    assert "- **weak** misses own style (50%).\n  Tried: 300 steps: own style 50% -> 60%.\n" in missed
    assert "never shown" not in missed


def test_tried_notes_read_beside_each_manifest(tmp_path: Path) -> None:
    for style_id in ("pirate", "legal"):
        shutil.copytree(STYLES_DIR / style_id, tmp_path / style_id, ignore=shutil.ignore_patterns("*.png", "evaluation.json"))
    (tmp_path / "pirate" / TRIED).write_text("rank 16: no better\n", encoding="utf-8")
    styles = list(load_styles(tmp_path).styles.values())
    assert tried_notes(styles) == {"pirate": "rank 16: no better"}
