"""docs/STYLES.md's 'Targets missed' section: every miss named, with the reason its training implies."""

from __future__ import annotations

from pathlib import Path

from training.evaluate import StyleResult
from training.report import TrainingRow, write_report


def _result(style_id: str, ppl_adapter: float, own: float) -> StyleResult:
    return StyleResult(style_id, 100.0, ppl_adapter, own, 0.1, 0.9, 0.9, 3, (("p", "base", "adapter"),))


def test_misses_name_the_target_and_the_reason(tmp_path: Path) -> None:
    results = [_result("good", 50.0, 0.9), _result("old", 90.0, 0.2), _result("new", 60.0, 0.5)]
    training = [TrainingRow("good", "inkwell train-style good --steps 160", 900.0, 10**6, 160),
                TrainingRow("old", "inkwell train-style old --steps 24 --batch-size 4", 200.0, 10**6, 24),
                TrainingRow("new", "inkwell train-style new --steps 160 --batch-size 8", 900.0, 10**6, 160)]
    out = tmp_path / "STYLES.md"
    write_report(results, 0.9, out, "inkwell eval-styles", training)
    missed = out.read_text().split("## Targets missed")[1].split("## Reproduce")[0]
    assert "**good**" not in missed
    assert "- **old** misses perplexity, own style: trained with an early, tiny budget (24 steps)" in missed
    assert "- **new** misses own style: trained with the current recipe" in missed
    assert "--epochs 2" in missed  # the recipe to rerun


def test_no_miss_says_none(tmp_path: Path) -> None:
    out = tmp_path / "STYLES.md"
    write_report([_result("good", 50.0, 0.9)], 0.9, out, "inkwell eval-styles", [])
    assert "## Targets missed\n\n- none\n" in out.read_text()
