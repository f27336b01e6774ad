"""The peer benchmark's Inkwell runner: ``engine.LLM`` on token-id prompts (``python -m cli.bench.run_inkwell``).

Spec fields beyond the protocol's: ``model``, ``dtype``, ``engine`` ("base": ``enable_lora=False``;
"lora": 16 slots), ``rank``, and optionally ``extras = {"many", "slots", "stall_config"}`` for
issue 12's figures, measured by ``cli.bench.lora`` after the timed runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import transformers

from cli.bench import lora as bench_lora
from cli.bench.protocol import Peer, runner_main
from engine.config import EngineConfig
from engine.llm import LLM
from engine.llm_engine import LLMEngine
from engine.lora.request import LoRARequest
from engine.sampling_params import SamplingParams

LORA_SLOTS = 16


class InkwellPeer(Peer):
    """One Inkwell engine; adapters are registered on first use, one int id per folder."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.llm = LLM(**engine_kwargs(spec, LORA_SLOTS))
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        self._requests: dict[str, LoRARequest] = {}

    def generate(self, prompts: list[list[int]], adapters: list[str | None], max_tokens: int) -> list[list[int]]:
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
        loras = [self._request(folder) for folder in adapters]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, loras)
        return [out.outputs[0].token_ids for out in outputs]

    def _request(self, folder: str | None) -> LoRARequest | None:
        if folder is None:
            return None
        if folder not in self._requests:
            self._requests[folder] = LoRARequest(f"a{len(self._requests)}", folder)
        return self._requests[folder]

    def extras(self, spec: dict) -> dict:
        """Issue 12: ``many`` adapters over ``slots`` slots (zipf vs one adapter), the load stall, and each
        mixed config's tax against a bare engine in this process, batches alternated."""
        wanted = spec.get("extras")
        if not wanted:
            return {}
        run = next(r for r in spec["runs"] if r["config"] == wanted["stall_config"])
        loras = [self._request(folder) for folder in run["adapters"]]
        stall = bench_lora.load_stall(self.llm.engine, run["prompts"][0], loras, spec["max_tokens"],
                                      Path(run["adapters"][0]))
        folders = sorted({Path(f) for f in run["adapters"] if f})
        many = LLMEngine(EngineConfig(**engine_kwargs(spec, wanted["slots"])))
        with tempfile.TemporaryDirectory(prefix="inkwell-bench-many-") as root:
            zipf = bench_lora.many_adapters(many, folders, Path(root), wanted["many"], run["prompts"][0],
                                            spec["max_tokens"])
        return {"stall": vars(stall), "many": {**vars(zipf), "count": wanted["many"], "slots": wanted["slots"]},
                "interleaved": self._interleaved_tax(spec)}

    def _interleaved_tax(self, spec: dict) -> dict[str, dict]:
        """Per mixed config, the tax with a bare engine of this process alternated batch by batch."""
        bare = LLMEngine(EngineConfig(**engine_kwargs({**spec, "engine": "base"}, 0)))
        taxes = {}
        for run in (r for r in spec["runs"] if r["config"].startswith("mixed")):
            loras = [self._request(folder) for folder in run["adapters"]]
            tax = bench_lora.interleaved_tax(bare, self.llm.engine, run["prompts"][0], loras, spec["max_tokens"])
            taxes[run["config"]] = {**vars(tax), "adapters": len({f for f in run["adapters"] if f})}
        return taxes


def engine_kwargs(spec: dict, slots: int) -> dict:
    """EngineConfig fields for the spec's engine kind (``slots`` LoRA slots when it is "lora")."""
    kwargs = dict(model=spec["model"], dtype=spec["dtype"], device="cpu", num_threads=spec["threads"],
                  max_num_seqs=max(32, len(spec["warmup"])))
    if spec["engine"] == "lora":
        kwargs.update(enable_lora=True, max_loras=slots, max_lora_rank=spec["rank"])  # the default host cache
    return kwargs


if __name__ == "__main__":
    runner_main(InkwellPeer)
