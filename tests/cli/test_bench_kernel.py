"""``inkwell bench-kernel`` runs end to end on small shapes, times every system and checks their results."""

from __future__ import annotations

import argparse
import re

import pytest

from cli.bench import kernel as bench_kernel
from kernels.cpu_ext import build_key, cpu_ops


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_kernel.configure(parser)
    return parser.parse_args(["--hidden", "48", "--kv", "16", "--intermediate", "80", "--layers", "2",
                              "--rank", "4", "--repeats", "2", "--threads", "1", *extra])


def _rows(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if re.match(r"\| \d+x\d+/\d+ \|", line)]


def test_cases_parse_and_bad_ones_are_usage_errors() -> None:
    assert bench_kernel.parse_case("16x64/10") == bench_kernel.Case(16, 64, 10)
    for bad in ("16x1", "ax1/2", "0x1/1", "4x1/17"):
        with pytest.raises(argparse.ArgumentTypeError, match="SEQSxLEN/ADAPTERS|counts must be"):
            bench_kernel.parse_case(bad)


@pytest.mark.skipif(cpu_ops() is None, reason="the compiled CPU kernels are not built on this host")
def test_every_system_is_timed_and_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--cases", "4x1/2,3x400/2,2x5/1", "--dtypes", "float32,bfloat16", "--builds", build_key())
    assert bench_kernel.run(args) == 0
    out = capsys.readouterr().out
    assert "load average before" in out and "load average after" in out and "CPU:" in out
    rows = _rows(out)
    assert [r[0] for r in rows] == ["4x1/2", "3x400/2", "2x5/1"] * 2  # every case, fp32 then bf16
    for row in rows:
        kernel, torch_path, build = (float(v) for v in row[1:4])
        assert min(kernel, torch_path, build) > 0
        assert float(row[4].removesuffix("x")) == pytest.approx(torch_path / kernel, rel=0.02, abs=0.01)
        assert float(row[6]) < 2e-2  # bf16 rows round differently on the torch path; fp32 ~1e-7
    fp32 = rows[:3]
    assert all(float(r[6]) < 1e-5 for r in fp32)
    # per layer and slot: qkv A 12x48 + B 4x80, o 4x48 + 4x48, gate_up 8x48 + 4x160, down 4x80 + 4x48
    per_slot_layer = 12 * 48 + 4 * 80 + 4 * 48 + 4 * 48 + 8 * 48 + 4 * 160 + 4 * 80 + 4 * 48
    for row, (slots, item) in zip(rows, [(2, 4), (2, 4), (1, 4), (2, 2), (2, 2), (1, 2)]):
        assert float(row[7]) > 0  # the cached-stacks time
        assert float(row[8]) == pytest.approx(slots * 2 * per_slot_layer * item / 1e6, abs=0.006)
        assert row[9] == "-" or float(row[9]) > 0


def test_an_unknown_build_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no cached kernels build 'nope'"):
        bench_kernel.systems("nope")
