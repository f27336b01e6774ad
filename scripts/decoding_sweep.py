"""Pick a style's default sampling: run candidate settings through the engine on the held-out everyday requests.

For each candidate (temperature, top_p, repetition penalty, no-repeat-n-gram size, strength) it prints the share of
replies the all-styles classifier names as the style, the promised marker's share, the worst word-4-gram
count in one reply and distinct-2. The chosen row goes into ``styles/<id>/style.toml`` ``[defaults]``.

    python scripts/decoding_sweep.py STYLE [STYLE ...] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.model_store import DEFAULT_MODEL, resolve_model  # noqa: E402
from styles.registry import load_styles  # noqa: E402
from training.data.everyday import EVAL_REQUESTS  # noqa: E402
from training.generation import adapter_request, open_engine, reply_all, seeded  # noqa: E402
from training.scoring import score_run, style_classifier  # noqa: E402

CANDIDATES = (  # temperature, top_p, repetition_penalty, no_repeat_ngram_size, strength (adapter scale)
    (0.7, 0.9, 1.1, 0, 1.0),
    (0.7, 0.9, 1.1, 4, 1.0),
    (0.7, 0.9, 1.2, 3, 1.0),
    (0.4, 0.9, 1.15, 4, 1.0),
    (0.7, 0.9, 1.1, 4, 1.3),
)


def main() -> int:
    """Print one table row per style and candidate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("styles", nargs="+")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    registry = load_styles()
    classifier, _ = style_classifier(sorted(registry.styles))
    llm = open_engine(resolve_model(DEFAULT_MODEL), args.threads)
    print("| style | temperature | top_p | repetition | no-repeat n | strength | own style | marker | max 4-gram | "
          "distinct-2 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for int_id, style in enumerate(map(registry.get, args.styles), start=1):
        for temperature, top_p, penalty, ngram, strength in CANDIDATES:
            params = style.sampling_params(temperature=temperature, top_p=top_p, repetition_penalty=penalty,
                                           no_repeat_ngram_size=ngram)
            replies = reply_all(llm, style.system_prompt, EVAL_REQUESTS, seeded(params, len(EVAL_REQUESTS), 0),
                                replace(adapter_request(style, int_id), scale=strength))
            s = score_run(style.id, replies, classifier)
            marker = "—" if s.marker is None else f"{s.marker:.0%}"
            print(f"| {style.id} | {temperature} | {top_p} | {penalty} | {ngram} | {strength} | {s.own:.0%} | {marker} | "
                  f"{s.max_4gram} | {s.distinct2:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
