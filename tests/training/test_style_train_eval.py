"""train-style and eval-styles end to end on a tiny random Llama (seconds, no corpora fetched)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from training.corpora import sha256_of
from training.data.pairs import Pair
from training.evaluate import training_row, evaluate
from styles.registry import STYLES_DIR, load_styles
from training.report import write_report
from training.train import TrainConfig, train_style

PAIRS = [Pair(f"Say something about the number {i}.", f"Arr, {i} be a fine number, matey!") for i in range(40)]


@pytest.fixture()
def trained(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A styles folder with one 'pirate' style trained for a few steps on the tiny model."""
    monkeypatch.setattr("training.train.style_split", lambda style_id, seed: (PAIRS[8:], PAIRS[:8]))
    shutil.copytree(STYLES_DIR / "pirate", tmp_path / "pirate", ignore=shutil.ignore_patterns("adapter", "*.png"))
    manifest = tmp_path / "pirate" / "style.toml"
    manifest.write_text(manifest.read_text().replace('adapter = "adapter"', 'adapter = ""'))
    config = TrainConfig(steps=6, batch_size=4, warmup=2, upper_layers=1, max_len=256, lr=1e-2)
    train_style("pirate", config, tmp_path, str(tiny_llama_dir))
    return tmp_path, tiny_llama_dir


def test_training_writes_a_bf16_peft_adapter_and_updates_the_manifest(trained: tuple[Path, Path]) -> None:
    styles_dir, model_dir = trained
    style = load_styles(styles_dir).get("pirate")
    assert style.adapter_path == (styles_dir / "pirate" / "adapter").resolve()
    assert style.base_model_sha256 == sha256_of(model_dir / "model.safetensors")
    config = json.loads((style.adapter_path / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["layers_to_transform"] == [1] and config["base_model_name_or_path"] == "smollm2-135m"
    with safe_open(str(style.adapter_path / "adapter_model.safetensors"), "pt") as f:
        assert f.keys() and all(f.get_tensor(k).dtype == torch.bfloat16 for k in f.keys())
        assert all(".layers.1." in k for k in f.keys())
    record = json.loads((style.adapter_path / "training.json").read_text())
    assert record["command"].startswith("inkwell train-style pirate --steps 6")
    assert record["last_loss"] < record["first_loss"]
    assert (styles_dir / "pirate" / "loss.png").stat().st_size > 1000


def test_evaluation_reports_every_figure(trained: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    styles_dir, model_dir = trained
    monkeypatch.setattr("training.evaluate.style_split", lambda style_id: (PAIRS[8:], PAIRS[:8]))
    monkeypatch.setattr("training.evaluate.neutral_texts", lambda limit, seed: ["plain words here", "more text"])
    results, cv = evaluate([load_styles(styles_dir).get("pirate")], model_dir, ppl_pairs=4, max_new_tokens=4)
    (result,) = results
    assert result.ppl_adapter < result.ppl_base  # trained on this very pattern
    assert 0.0 <= result.own_adapter <= 1.0 and 0.0 <= cv <= 1.0 and len(result.samples) == 3
    assert (styles_dir / "pirate" / "evaluation.json").is_file()
    monkeypatch.setattr("training.evaluate._evaluate_style", lambda *a: pytest.fail("cached result not reused"))
    assert evaluate([load_styles(styles_dir).get("pirate")], model_dir, 4, 4)[0] == results
    out = styles_dir / "STYLES.md"
    write_report(results, cv, out, "inkwell eval-styles", [training_row(load_styles(styles_dir).get("pirate"))])
    text = out.read_text()
    assert "| pirate |" in text and "### pirate" in text and out.with_suffix(".png").is_file()
    assert "| pirate | `inkwell train-style pirate --steps 6" in text
