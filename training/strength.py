"""Each style's default strength (adapter scale), chosen on the tuning requests: ``inkwell tune-strength``.

A small adapter trained for a few hundred steps often speaks its style more surely a little above scale 1,
and falls apart (loops, loses its layout) further up. For every scale of a grid, every style's adapter
answers the tuning requests (``TUNING_REQUESTS``: 48, held out from training, never scored by docs/STYLES.md)
at its sampling defaults, each ``samples`` times with its own seed, every style in one mixed engine batch, and
the all-styles classifier names each reply's style. A style's default is the scale with the highest own-style
share among those that keep its marker and repetition targets (ties: the smaller scale; none kept: 1.0, the
adapter as trained).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from training.chat_format import conversation
from training.data import SEED
from training.data.everyday import TUNING_REQUESTS
from training.evaluate import as_asked
from training.replies import adapter_request, open_engine, seeded
from training.report import MARKER_TARGET, REPEAT_LIMIT
from training.scoring import RunScore, score_run

GRID = (1.0, 1.15, 1.3, 1.45)
SAMPLES = 1  # replies per tuning request and scale, each with its own seed
RECORD = "strength.json"  # per style, beside style.toml: every scale's figures and the one chosen


@dataclass(frozen=True)
class Trial:
    """One style's figures on the tuning requests at one scale."""

    scale: float
    score: RunScore

    def keeps_targets(self) -> bool:
        """The marker (where one is promised) and repetition targets hold at this scale."""
        marker = self.score.marker
        return self.score.max_4gram < REPEAT_LIMIT and (marker is None or marker >= MARKER_TARGET)


def choose(trials: Sequence[Trial]) -> float:
    """The best own-style share among the scales that keep the targets; ties go to the smaller scale."""
    kept = [t for t in trials if t.keeps_targets()]
    return max(kept, key=lambda t: (t.score.own, -t.scale)).scale if kept else 1.0


def mixed_replies(llm, styles: Sequence, scale: float, requests: Sequence[str]) -> dict[str, list[str]]:
    """Every style's replies to ``requests`` at ``scale`` and its sampling defaults, all in one engine batch."""
    rows = [(style, request, params) for style in styles for request, params in
            zip(requests, as_asked(seeded(style.sampling_params(), len(requests), SEED), requests))]
    outputs = llm.chat([conversation(s.system_prompt, r) for s, r, _ in rows], [p for _, _, p in rows],
                       [adapter_request(s, scale) for s, _, _ in rows])
    replies: dict[str, list[str]] = {style.id: [] for style in styles}
    for (style, _, _), output in zip(rows, outputs):
        replies[style.id].append(output.outputs[0].text.strip())
    return replies


def tune_strengths(styles: Sequence, classifier, model_dir: Path, grid: Sequence[float] = GRID,
                   threads: int | None = None, samples: int = SAMPLES) -> dict[str, list[Trial]]:
    """Style id -> its trials over ``grid`` (``classifier``: the all-styles one of the evaluation), each scored
    on ``samples`` replies to every tuning request."""
    llm = open_engine(model_dir, threads, max_loras=len(styles))
    trials: dict[str, list[Trial]] = {style.id: [] for style in styles}
    for scale in grid:
        for style_id, replies in mixed_replies(llm, styles, scale, TUNING_REQUESTS * samples).items():
            trials[style_id].append(Trial(scale, score_run(style_id, replies, classifier)))
    return trials


def save_record(folder: Path, trials: Sequence[Trial], chosen: float, samples: int) -> None:
    """Write ``strength.json`` beside the style's manifest: every trial's figures and the chosen scale."""
    rows = [{"scale": t.scale, **asdict(t.score), "keeps_targets": t.keeps_targets()} for t in trials]
    record = {"requests": "training.data.everyday.TUNING_REQUESTS", "samples": samples, "chosen": chosen,
              "trials": rows}
    (folder / RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def load_record(folder: Path) -> dict | None:
    """The style's ``strength.json``, or None when it was never tuned."""
    path = folder / RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
