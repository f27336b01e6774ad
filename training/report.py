"""Render the style evaluation as docs/STYLES.md plus a bar chart PNG beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from training.plots import save_eval_chart

PPL_TARGET, OWN_TARGET = 0.7, 0.8  # adapter/base perplexity at most; own-style share at least
DISTINCT2_MIN, REPEAT_MAX = 0.5, 8  # fluency: distinct-2 at least; longest repeated n-gram at most


class TrainingRow(NamedTuple):
    """How one shipped adapter was trained, from its ``training.json``."""

    style_id: str
    command: str  # the exact command that reproduces it
    seconds: float
    size_bytes: int
    steps: int


def write_report(
    results: Sequence, cv_accuracy: float, out: Path, command: str, training: Sequence[TrainingRow] = ()
) -> None:
    """Write the markdown report to ``out`` and its chart to ``out`` with a .png suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    chart = out.with_suffix(".png")
    save_eval_chart(results, chart, PPL_TARGET, OWN_TARGET)
    lines = [*_header(command, cv_accuracy, chart.name), *_table(results), "", *_misses(results, training), "",
             *_training(training), "## Samples (greedy, first tokens only)", ""]
    for result in results:
        lines += _samples(result)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _header(command: str, cv_accuracy: float, chart: str) -> list[str]:
    return [
        "# Styles: do the adapters sound like themselves?", "",
        f"Written by `{command}` (transformers + PEFT on the embedded SmolLM2-135M, fp32, greedy with "
        "repetition penalty 1.1, every reply prompted with the style's own system prompt).", "",
        f"- **Perplexity**: held-out reply tokens, base vs adapter; target adapter <= {PPL_TARGET}x base.",
        "- **Own style**: a TF-IDF (char 2-4-grams) + logistic-regression classifier trained on held-out "
        "style text and plain chat replies ('neutral'), never on model output, labels the replies to the "
        f"style's 3 examples + 20 neutral prompts; target >= {OWN_TARGET:.0%} for the adapter; the base with "
        f"the same system prompt is the control. Its 5-fold accuracy on its own training text: {cv_accuracy:.1%}.",
        f"- **Fluency**: distinct-2 over the replies (>= {DISTINCT2_MIN}) and the longest word n-gram "
        f"repeated inside one reply (<= {REPEAT_MAX}).", "",
        f"![perplexity ratio and own-style share per style]({chart})", "",
    ]


def _passes(r) -> tuple[bool, bool, bool]:
    fluent = r.distinct2_adapter >= DISTINCT2_MIN and r.worst_repeat_adapter <= REPEAT_MAX
    return r.ppl_ratio <= PPL_TARGET, r.own_adapter >= OWN_TARGET, fluent


def _table(results: Sequence) -> list[str]:
    rows = ["| style | ppl base | ppl adapter | ratio | own style adapter | own style base | distinct-2 adapter / base "
            "| longest repeat | targets |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        marks = " ".join("✅" if ok else "❌" for ok in _passes(r))
        rows.append(f"| {r.style_id} | {r.ppl_base:.1f} | {r.ppl_adapter:.1f} | {r.ppl_ratio:.2f} | "
                    f"{r.own_adapter:.0%} | {r.own_base:.0%} | {r.distinct2_adapter:.2f} / {r.distinct2_base:.2f} | "
                    f"{r.worst_repeat_adapter} | {marks} |")
    rows.append("")
    rows.append("Targets column: perplexity, own style, fluency.")
    return rows


FULL_BUDGET_STEPS = 100  # adapters trained with fewer steps predate the current recipe
WHY_SHORT = "trained with an early, tiny budget ({steps} steps); not yet retrained with the current recipe"
WHY_VOICE = ("trained with the current recipe; its voice does not yet carry into every neutral prompt (the "
             "classifier reads character n-grams, and replies to everyday questions drift back to plain chat)")
MISS_NOTE = (
    "Current recipe: `--steps 160 --batch-size 8 --upper-layers 8 --max-len 96 --lr 0.001 --warmup 10 --epochs 2` "
    "(about 20 minutes on one core; see the table below). Rerun `inkwell train-style ID` with it, then "
    "`inkwell eval-styles`: only adapters whose weights or evaluation data changed are evaluated again."
)


def _misses(results: Sequence, training: Sequence[TrainingRow]) -> list[str]:
    names = ("perplexity", "own style", "fluency")
    steps = {row.style_id: row.steps for row in training}
    misses = []
    for r in results:
        if all(passes := _passes(r)):
            continue
        short = steps.get(r.style_id, FULL_BUDGET_STEPS) < FULL_BUDGET_STEPS
        why = WHY_SHORT.format(steps=steps.get(r.style_id)) if short else WHY_VOICE
        misses.append(f"- **{r.style_id}** misses {', '.join(n for n, ok in zip(names, passes) if not ok)}: {why}.")
    return ["## Targets missed", "", *(misses or ["- none"]), *(["", MISS_NOTE] if misses else [])]


def _training(rows: Sequence[TrainingRow]) -> list[str]:
    if not rows:
        return []
    lines = ["## Reproduce the adapters", "", "| style | command | train s | adapter |", "|---|---|---|---|"]
    lines += [f"| {r.style_id} | `{r.command}` | {r.seconds:.0f} | {r.size_bytes / 1e6:.2f} MB |" for r in rows]
    total = sum(r.size_bytes for r in rows) / 1e6
    return [*lines, "", f"All adapters together: {total:.1f} MB (bf16 safetensors).", ""]


def _samples(result) -> list[str]:
    lines = [f"### {result.style_id}", ""]
    for prompt, base, adapted in result.samples:
        lines += [f"**{prompt}**", "", f"- base: {_quote(base)}", f"- adapter: {_quote(adapted)}", ""]
    return lines


def _quote(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()).replace("|", "\\|") or "(empty)"
