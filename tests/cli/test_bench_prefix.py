"""``inkwell bench-prefix`` runs a short session on a tiny model: later Continues hit the cache, replies agree."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.bench import prefix as bench_prefix


def test_bench_prefix_smoke(tiny_llama_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    bench_prefix.configure(parser)
    args = parser.parse_args(["--model", str(tiny_llama_dir), "--style", "none", "--continues", "3",
                              "--piece-tokens", "100", "--max-tokens", "4"])
    assert bench_prefix.run(args) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert int(rows[0][2]) == 0 and all(int(row[2]) > 100 for row in rows[1:])  # cached prompt tokens
    assert all(row[-1] == "yes" for row in rows) and "speed-up from the 3rd Continue on" in out
