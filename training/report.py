"""Render the style evaluation as docs/STYLES.md plus a bar chart PNG beside it."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from training.data.everyday import EVAL_REQUESTS, SONNET_REQUEST, TUNING_REQUESTS
from training.plots import save_eval_chart

OWN_TARGET, ALL_TARGET, MARKER_TARGET = 0.8, 0.9, 0.7  # own-style share, all-styles accuracy, marker share
REPEAT_LIMIT, SONNET_LINES = 3, 14  # no word 4-gram this often in one reply; a sonnet's lines
SAMPLE_CHARS = 420
COMMAND = "inkwell eval-styles"


class TrainingRow(NamedTuple):
    """How one shipped adapter was trained, from its ``training.json``."""

    style_id: str
    command: str  # the exact command that reproduces it
    seconds: float
    size_bytes: int
    steps: int
    held_out_loss: float | None = None
    last_loss: float | None = None


def write_report(results: Sequence, cv_accuracy: float, out: Path, training: Sequence[TrainingRow] = (),
                 tried: Mapping[str, str] | None = None, strengths: Mapping[str, dict] | None = None) -> None:
    """Write the markdown report to ``out`` and its chart to ``out`` with a .png suffix.

    ``tried`` maps a style id to what was tried against its misses (``styles/<id>/tried.md``); it is quoted
    under that style's line in "Targets missed". ``strengths`` maps a style id to its ``strength.json``
    (``inkwell tune-strength``): how its default strength was chosen.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    chart = out.with_suffix(".png")
    save_eval_chart(results, chart, OWN_TARGET)
    lines = [*_header(cv_accuracy, chart.name), *_overall(results), *_table(results, "adapter_defaults", "base_defaults"),
             *_table(results, "adapter_greedy", "base_defaults"), *_misses(results, tried or {}), *_strengths(strengths or {}),
             *_training(training),
             "## Samples (the style's defaults)", ""]
    for result in results:
        lines += _samples(result)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _header(cv_accuracy: float, chart: str) -> list[str]:
    return [
        "# Styles: do the adapters sound like themselves?", "",
        f"Written by `{COMMAND}` (run `inkwell eval-styles --styles ID` per style; the report scores every style "
        "whose replies are cached). Replies come from Inkwell's own engine (`engine.LLM`, fp32) on the embedded "
        f"SmolLM2-135M, to {len(EVAL_REQUESTS)} held-out everyday requests that no style trained on, each prompted "
        "with the style's own system prompt. Three runs per style: the adapter at the style's default sampling "
        "(seeded) and greedy; the base model with the same system prompt at the defaults (the control).", "",
        "- **Own style**: an all-styles classifier (TF-IDF char 2-4-grams + logistic regression over every style "
        "and plain chat, 'neutral'), trained on the styles' data and never on model output, names the style of "
        f"each reply; target >= {OWN_TARGET:.0%} per style, >= {ALL_TARGET:.0%} over all styles. Its 5-fold "
        f"accuracy on its own training text: {cv_accuracy:.1%}.",
        f"- **Marker**: the share of replies with the style's promised surface feature (training/markers.py); "
        f"target >= {MARKER_TARGET:.0%}.",
        f"- **Repetition**: the longest word n-gram repeated inside one reply and the most occurrences of one word "
        f"4-gram (target < {REPEAT_LIMIT} at the defaults); distinct-2 over the replies.",
        f"- **Sonnet**: lines of poetry's reply to \"{SONNET_REQUEST}\" (target {SONNET_LINES}). Every run gets the "
        f"line count of the verse form its request asks to be written, as the API sets it (`lines`, "
        f"styles/forms.py): the engine holds the end back until the reply has that many lines.", "",
        f"![own-style share per style]({chart})", "",
    ]


def overall(results: Sequence, run: str) -> float:
    """Share of all replies of ``run`` the classifier names rightly (every style has as many replies)."""
    return statistics.fmean(r.runs[run].own for r in results) if results else 0.0


def _overall(results: Sequence) -> list[str]:
    figures = {run: overall(results, run) for run in ("adapter_defaults", "adapter_greedy", "base_defaults")}
    return ["## All styles", "",
            f"Classifier names the right style for {figures['adapter_defaults']:.0%} of adapter replies at the "
            f"defaults and {figures['adapter_greedy']:.0%} greedy (target >= {ALL_TARGET:.0%}); control, base + "
            f"system prompt at the defaults: {figures['base_defaults']:.0%}.", ""]


def _passes(r) -> tuple[bool, bool, bool, bool]:
    run = r.runs["adapter_defaults"]
    sonnet = r.style_id != "poetry" or r.sonnet_lines["adapter_defaults"] == SONNET_LINES
    return run.own >= OWN_TARGET, run.marker is None or run.marker >= MARKER_TARGET, run.max_4gram < REPEAT_LIMIT, sonnet


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _table(results: Sequence, run: str, control: str) -> list[str]:
    title = "the style's defaults" if run.endswith("defaults") else "greedy"
    rows = [f"## Adapters, {title} (control: base + system prompt, the style's defaults)", "",
            "| style | own style | control | marker | marker share | control | longest repeat | max 4-gram | "
            "distinct-2 | sonnet lines |" + (" targets |" if run == "adapter_defaults" else ""),
            "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if run == "adapter_defaults" else "")]
    for r in results:
        a, b = r.runs[run], r.runs[control]
        sonnet = str(r.sonnet_lines[run]) if r.style_id == "poetry" else "—"
        marks = " " + " ".join("✅" if ok else "❌" for ok in _passes(r)) + " |" if run == "adapter_defaults" else ""
        rows.append(f"| {r.style_id} | {a.own:.0%} | {b.own:.0%} | {r.marker_name or '—'} | {_cell(a.marker)} | "
                    f"{_cell(b.marker)} | {a.longest_repeat} | {a.max_4gram} | {a.distinct2:.2f} | {sonnet} |{marks}")
    if run == "adapter_defaults":
        rows += ["", "Targets column: own style, marker, repetition, sonnet."]
    return [*rows, ""]


def _misses(results: Sequence, tried: Mapping[str, str]) -> list[str]:
    names = ("own style", "marker", "repetition", "sonnet")
    misses = []
    for r in results:
        run = r.runs["adapter_defaults"]
        figures = {"own style": f"{run.own:.0%}", "marker": _cell(run.marker), "repetition": f"{run.max_4gram}x",
                   "sonnet": f"{r.sonnet_lines['adapter_defaults']} lines"}
        missed = [f"{n} ({figures[n]})" for n, ok in zip(names, _passes(r)) if not ok]
        if missed:
            misses.append(f"- **{r.style_id}** misses {', '.join(missed)}.")
            if note := " ".join(tried.get(r.style_id, "").split()):
                misses.append(f"  Tried: {note}")
    return ["## Targets missed", "", *(misses or ["- none"]), ""]


def _strengths(records: Mapping[str, dict]) -> list[str]:
    if not records:
        return []
    scales = sorted({t["scale"] for r in records.values() for t in r["trials"]})
    samples = max(r.get("samples", 1) for r in records.values())
    lines = ["## Default strength", "",
             f"Chosen by `inkwell tune-strength` on {len(TUNING_REQUESTS)} other held-out everyday requests (the tuning "
             f"set, never scored above), each asked {samples} time(s) with its own seed: each scale's own-style share "
             "at the style's sampling defaults; † marks a scale that breaks the marker or repetition target. The "
             "default is the best share among the others (ties: the smaller scale).",
             "", "| style | " + " | ".join(f"{s:g}" for s in scales) + " | default |",
             "|---|" + "---|" * (len(scales) + 1)]
    for style_id, record in sorted(records.items()):
        cells = {t["scale"]: f"{t['own']:.0%}{'' if t['keeps_targets'] else ' †'}" for t in record["trials"]}
        lines.append(f"| {style_id} | " + " | ".join(cells.get(s, "—") for s in scales) + f" | {record['chosen']:g} |")
    return [*lines, ""]


def _training(rows: Sequence[TrainingRow]) -> list[str]:
    if not rows:
        return []
    lines = ["## Reproduce the adapters", "",
             "| style | command | steps | train s | last loss | held-out loss | adapter |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows):
        held = "—" if r.held_out_loss is None else f"{r.held_out_loss:.3f}"
        last = "—" if r.last_loss is None else f"{r.last_loss:.3f}"
        lines.append(f"| {r.style_id} | `{r.command}` | {r.steps} | {r.seconds:.0f} | {last} | {held} | "
                     f"{r.size_bytes / 1e6:.2f} MB |")
    total = sum(r.size_bytes for r in rows) / 1e6
    return [*lines, "", f"All adapters together: {total:.1f} MB (bf16 safetensors). Loss curves: "
            "`styles/<id>/loss.png`.", ""]


def _samples(result) -> list[str]:
    lines = [f"### {result.style_id}", ""]
    for prompt, base, adapted in result.samples:
        lines += [f"**{prompt}**", "", f"- base: {_quote(base)}", f"- adapter: {_quote(adapted)}", ""]
    return lines


def _quote(text: str) -> str:
    flat = " / ".join(line.strip() for line in text.splitlines() if line.strip()).replace("|", "\\|")
    flat = flat if len(flat) <= SAMPLE_CHARS else flat[: SAMPLE_CHARS - 1] + "…"
    return flat or "(empty)"
