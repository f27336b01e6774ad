"""Inkwell's CPU kernels (``kernels/cpu/*.cpp``): built once per host, cached, loaded on first use.

The sources are compiled with ``torch.utils.cpp_extension`` (ninja + the system's g++) using
``-O3 -march=native``, so the vector width (AVX-512 or AVX2) is the host's own. The build folder is keyed
by the sources, the flags, torch's version and the CPU's feature flags, under ``$INKWELL_KERNELS_DIR``
(default ``~/.cache/inkwell/kernels``); ``make kernels`` (part of the set-up) builds it ahead of time. If the build fails the engine logs one warning and runs the torch path; ``INKWELL_CPU_KERNELS=0``
turns the kernels off.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
from pathlib import Path
from types import ModuleType

import torch

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent / "cpu"
CFLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fno-trapping-math", "-fno-math-errno", "-std=c++20", "-fopenmp", "-Wno-unknown-pragmas"]


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def fast_bf16_flag() -> str | None:
    """The flag that makes bf16 matmuls fast on this CPU (AMX or AVX-512 BF16), or None (AVX2: slow)."""
    flags = cpu_flags()
    return next((f for f in FAST_BF16_FLAGS if f in flags), None)


def build_key() -> str:
    """A hash of everything that changes the binary: sources, flags, torch and the CPU."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(" ".join(CFLAGS).encode() + torch.__version__.encode() + " ".join(sorted(cpu_flags())).encode())
    return digest.hexdigest()[:16]


def build_dir(key: str | None = None) -> Path:
    """Where the build with this key (default: this checkout's, on this host) lives."""
    root = Path(os.environ.get("INKWELL_KERNELS_DIR") or Path.home() / ".cache" / "inkwell" / "kernels")
    return root / (key or build_key())


def load_build(key: str) -> ModuleType:
    """An earlier cached build by its key (its folder's name), e.g. to time two versions of a kernel in one
    process; raises ``FileNotFoundError`` if no such build is cached."""
    found = sorted(build_dir(key).glob("*.so"))
    if not found:
        raise FileNotFoundError(f"no cached kernels build {key!r} under {build_dir(key).parent}")
    spec = importlib.util.spec_from_file_location(found[0].name.split(".")[0], found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build() -> ModuleType:
    from torch.utils.cpp_extension import load

    folder = build_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return load(name=f"inkwell_cpu_{build_key()}", sources=[str(p) for p in sorted(SOURCE_DIR.glob("*.cpp"))],
                extra_cflags=CFLAGS, extra_ldflags=["-fopenmp"], build_directory=str(folder), verbose=False)


@functools.cache
def cpu_ops() -> ModuleType | None:
    """The compiled kernels module, or ``None`` (with one warning) when they are off or cannot be built."""
    if os.environ.get("INKWELL_CPU_KERNELS", "1") == "0":
        log.info("CPU kernels turned off (INKWELL_CPU_KERNELS=0): using the torch path")
        return None
    try:
        module = _build()
    except Exception as exc:  # a compiler or ninja problem must never stop the engine
        log.warning("CPU kernels could not be built (%s: %s); using the slower torch path", type(exc).__name__, exc)
        return None
    log.info("CPU kernels loaded from %s (%s)", build_dir(), torch.backends.cpu.get_cpu_capability())
    return module


def build() -> int:
    """Build (or find) the kernels now and say where; never fails the caller (``make``'s set-up)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if cpu_ops() is None:
        log.warning("continuing without the CPU kernels: the engine will use the slower torch path")
    return 0
