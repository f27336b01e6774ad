"""``inkwell bench-lora`` runs end to end on a tiny model and prints every figure."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.bench import lora as bench_lora


def test_bench_lora_smoke(tiny_llama_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    bench_lora.configure(parser)
    args = parser.parse_args(["--model", str(tiny_llama_dir), "--dtype", "float32", "--requests", "3",
                              "--adapters", "2", "--prompt-len", "4", "--max-tokens", "4", "--many", "5",
                              "--slots", "2", "--memory-adapters", "2"])
    assert bench_lora.run(args) == 0
    out = capsys.readouterr().out
    for figure in ("multi-LoRA tax", "PEFT mixed-batch generate", "zipf picks", "resident memory grew",
                   "registered mid-stream"):
        assert figure in out, out


def test_zipf_batches_share_no_prompt_prefix() -> None:
    """Each batch of the many-adapter run gets prompts of its own (a batch must not find another's keys in
    the prefix cache), with the rest of every prompt kept."""
    prompts = [[7, 8, 9, 1], [7, 8, 10, 2], [11, 12, 13, 3]]
    batches = [bench_lora.unshared(prompts, k, vocab=4) for k in range(5)]
    marks = [tuple(prompt[:2]) for batch in batches for prompt in batch]
    assert len(set(marks)) == len(marks) and all(0 <= t < 4 for mark in marks for t in mark)
    assert all(prompt[2:] == original[2:] and len(prompt) == len(original)
               for batch in batches for prompt, original in zip(batch, prompts))
