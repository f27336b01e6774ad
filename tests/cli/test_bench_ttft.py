"""``inkwell bench-ttft`` on a tiny model: both conditions are timed, printed with the host and the ratio."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from cli.bench import ttft as bench_ttft


def test_bench_ttft_smoke(tiny_llama_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    bench_ttft.configure(parser)
    args = parser.parse_args(["--model", str(tiny_llama_dir), "--dtype", "float32", "--threads", "1",
                              "--streams", "3", "--prompt-len", "8", "--trials", "2"])
    assert bench_ttft.run(args) == 0
    out = capsys.readouterr().out
    alone, loaded = (float(m) for m in re.findall(r"median\s+([\d.]+) ms", out)[:2])
    ratio = float(re.search(r"under load / alone: ([\d.]+)x", out).group(1))
    assert alone > 0 and loaded > 0 and ratio == pytest.approx(loaded / alone, rel=0.1)  # ms printed to 0.1
    assert "CPU: " in out and "load average before" in out and "load average after" in out
