"""Every shipped adapter loads with PEFT on the real embedded base and changes its logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from training.corpora import sha256_of
from styles.registry import load_styles

pytestmark = pytest.mark.slow


def test_shipped_adapters_load_and_change_the_logits(embedded_model_dir: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    styles = sorted(load_styles().styles.values(), key=lambda s: s.id)
    assert styles and all(s.adapter_path for s in styles)
    assert {s.base_model_sha256 for s in styles} == {sha256_of(embedded_model_dir / "model.safetensors")}
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    base = AutoModelForCausalLM.from_pretrained(embedded_model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, styles[0].adapter_path, adapter_name=styles[0].id)
    for style in styles[1:]:
        model.load_adapter(style.adapter_path, adapter_name=style.id)
        assert json.loads((style.adapter_path / "adapter_config.json").read_text())["r"] == style.rank
    names = ["__base__", *(s.id for s in styles)]
    ids = tokenizer(["Tell me about the sea."] * len(names), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model.eval()(input_ids=ids, adapter_names=names).logits[:, -1]  # (1 + styles, V)
    assert torch.isfinite(logits).all()
    for row, style in enumerate(styles, start=1):
        assert (logits[row] - logits[0]).abs().max() > 1e-2, f"{style.id} does not change the logits"
