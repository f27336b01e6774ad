"""The peer benchmark's transformers + PEFT runner (``python -m cli.bench.run_peft``).

Spec fields beyond the protocol's: ``model``, ``dtype``, ``engine`` ("base": the plain transformers
model; "lora": a ``PeftModel`` with every adapter folder of the spec loaded, one
``generate(..., adapter_names=[...])`` per batch). EOS neither stops nor is masked (``eos_token_id=None``),
as vLLM's and Inkwell's ``ignore_eos`` do, so the tokens are comparable all the way.
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

from cli.bench.protocol import Peer, runner_main

BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter on this row"


def load_peft(model_dir: Path, dtype: str, folders: list[Path]) -> torch.nn.Module:
    """The base model in ``dtype`` (eval), wrapped in a PeftModel holding ``folders`` as a0, a1, ... if any."""
    from peft import PeftModel

    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).eval()
    model.generation_config.eos_token_id = None
    if not folders:
        return model
    model = PeftModel.from_pretrained(model, folders[0], adapter_name="a0").eval()
    for i, folder in enumerate(folders[1:], start=1):
        model.load_adapter(folder, adapter_name=f"a{i}")
    return model


def peft_generate(model: torch.nn.Module, prompts: list[list[int]], names: list[str] | None,
                  max_tokens: int) -> list[list[int]]:
    """One static greedy batch (equal-length prompts, no padding); ``names``: each row's adapter or None."""
    x = torch.tensor(prompts)  # [rows, prompt_len]
    extra = {"adapter_names": names} if names is not None else {}
    with torch.inference_mode():
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=False,
                             max_new_tokens=max_tokens, pad_token_id=0, **extra)
    return out[:, x.shape[1]:].tolist()


class PeftPeer(Peer):
    """transformers' ``generate``; mixed rows through PEFT's ``adapter_names``."""

    def __init__(self, spec: dict) -> None:
        torch.set_num_threads(spec["threads"])
        folders = sorted({f for run in spec["runs"] for f in run["adapters"] if f})
        self.names = {folder: f"a{i}" for i, folder in enumerate(folders)}
        lora = spec["engine"] == "lora"
        self.model = load_peft(Path(spec["model"]), spec["dtype"], [Path(f) for f in folders] if lora else [])
        self.lora = lora
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        if lora:
            import peft

            self.versions["peft"] = peft.__version__

    def generate(self, prompts: list[list[int]], adapters: list[str | None], max_tokens: int) -> list[list[int]]:
        names = [self.names[f] if f else BASE_ADAPTER for f in adapters] if self.lora else None
        return peft_generate(self.model, prompts, names, max_tokens)


if __name__ == "__main__":
    runner_main(PeftPeer)
