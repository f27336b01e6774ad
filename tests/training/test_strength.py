"""Choosing a style's default strength: the best own-style share among the scales that keep the targets."""

from __future__ import annotations

from training.scoring import RunScore
from training.strength import Trial, choose


def trial(scale: float, own: float, marker: float | None = 0.9, max_4gram: int = 1) -> Trial:
    return Trial(scale, RunScore(own=own, marker=marker, longest_repeat=3, max_4gram=max_4gram, distinct2=0.8))


def test_the_best_share_wins_unless_it_breaks_a_target() -> None:
    trials = [trial(1.0, 0.75), trial(1.15, 0.85), trial(1.3, 0.95, max_4gram=3), trial(1.45, 1.0, marker=0.5)]
    assert [t.keeps_targets() for t in trials] == [True, True, False, False]
    assert choose(trials) == 1.15


def test_ties_go_to_the_smaller_scale_and_styles_without_a_marker_need_none() -> None:
    assert choose([trial(1.0, 0.8, marker=None), trial(1.3, 0.9, marker=None), trial(1.15, 0.9, marker=None)]) == 1.15


def test_no_scale_keeping_the_targets_leaves_the_adapter_as_trained() -> None:
    assert choose([trial(1.15, 0.9, max_4gram=4), trial(1.3, 0.95, marker=0.1)]) == 1.0
