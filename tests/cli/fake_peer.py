"""A fake system for the peer benchmark's runner protocol (``python -m fake_peer SPEC OUT``).

Its tokens are each prompt's first ids plus the row's adapter index; ``spec["fake"]`` picks a failure:
"crash" (start-up raises), "short" (one token too few), "orphan" (leaves a child process that ignores
SIGTERM and writes its pid to ``spec["pid_file"]``), "hang" (never answers).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cli.bench.protocol import Peer, runner_main


class FakePeer(Peer):
    def __init__(self, spec: dict) -> None:
        self.mode = spec.get("fake", "")
        if self.mode == "crash":
            raise RuntimeError("no such engine")
        if self.mode == "orphan":
            child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                      "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
            Path(spec["pid_file"]).write_text(str(child.pid))
        self.versions = {"fake": "1.0"}

    def generate(self, prompts: list[list[int]], adapters: list[str | None], max_tokens: int) -> list[list[int]]:
        if self.mode == "hang":
            time.sleep(600)
        length = max_tokens - 1 if self.mode == "short" else max_tokens
        return [[(p[i % len(p)] + (len(a) if a else 0)) for i in range(length)] for p, a in zip(prompts, adapters)]


if __name__ == "__main__":
    runner_main(FakePeer)
