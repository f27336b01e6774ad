"""What a benchmark figure must be printed beside: the CPU, its vector flags, the load average."""

from __future__ import annotations

import os
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """The CPU's model name and which of ``FLAGS`` it has (what ``lscpu`` prints, read from /proc/cpuinfo)."""
    model, flags = "unknown CPU", set()
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    return model, [flag for flag in FLAGS if flag in flags]


def cpu_line() -> str:
    """One line: model, logical CPUs, and each of ``FLAGS`` as present (+) or absent (-)."""
    model, present = cpu_info()
    marks = " ".join(f"{'+' if flag in present else '-'}{flag}" for flag in FLAGS)
    return f"{model}, {os.cpu_count()} logical CPUs, {marks}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
