"""Runs ``triton_cases.py`` (Triton vs reference) in a subprocess under ``TRITON_INTERPRET=1``.

The interpreter flag must be set before triton is first imported and changes triton process-wide, so
it lives only in the child process; this process never sees it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_triton_kernels_match_reference_in_interpreter() -> None:
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "triton_cases.py")]
    proc = subprocess.run(command, env=env, cwd=HERE.parents[1], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]
    assert "TRITON_INTERPRET" not in os.environ
