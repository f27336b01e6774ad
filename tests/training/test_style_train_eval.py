"""train-style and eval-styles (through the engine) end to end on a tiny random Llama (seconds, no corpora)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from training.corpora import sha256_of
from training.data import SEED
from training.data.pairs import Pair
from styles.registry import STYLES_DIR, load_styles
from training.data.everyday import SONNET_REQUEST
from cli.eval_styles import run
from cli.tune_strength import run as tune
from training.replies import adapter_request, open_engine, reply_all, seeded
from training.strength import RECORD, mixed_replies
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


def test_evaluation_through_the_engine_caches_replies_and_reports(trained: tuple[Path, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    styles_dir, model_dir = trained
    requests = ("Say something about the number 3.", SONNET_REQUEST, "Say something about the number 5.")
    for module in ("training.evaluate", "training.scoring"):
        monkeypatch.setattr(f"{module}.EVAL_REQUESTS", requests)
    monkeypatch.setattr("training.scoring.style_split", lambda style_id: (PAIRS[8:], PAIRS[:8]))
    monkeypatch.setattr("training.scoring.neutral_texts", lambda limit, seed: ["plain words here", "more text"] * 3)
    manifest = styles_dir / "pirate" / "style.toml"
    manifest.write_text(re.sub(r"max_tokens = \d+", "max_tokens = 6", manifest.read_text()))
    out = styles_dir / "STYLES.md"
    args = argparse.Namespace(styles_dir=styles_dir, model=str(model_dir), styles=None, threads=1, out=out)
    assert run(args) == 0
    cache = json.loads((styles_dir / "pirate" / "evaluation.json").read_text())
    assert set(cache["replies"]) == {"adapter_defaults", "adapter_greedy", "base_defaults"}
    assert all(len(replies) == 3 for replies in cache["replies"].values())
    assert cache["replies"]["adapter_defaults"] != cache["replies"]["base_defaults"]  # same seeds: the adapter differs
    text = out.read_text()
    assert "| pirate |" in text and "### pirate" in text and "| pirate | `inkwell train-style pirate --steps 6" in text
    monkeypatch.setattr("training.evaluate.open_engine", lambda *a: pytest.fail("cached replies not reused"))
    assert run(args) == 0


def test_tuning_writes_the_chosen_strength_and_every_scales_figures(trained: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    styles_dir, model_dir = trained
    monkeypatch.setattr("training.strength.TUNING_REQUESTS", ("Say something about the number 7.", SONNET_REQUEST))
    monkeypatch.setattr("training.scoring.style_split", lambda style_id: (PAIRS[8:], PAIRS[:8]))
    monkeypatch.setattr("training.scoring.neutral_texts", lambda limit, seed: ["plain words here", "more text"] * 3)
    manifest = styles_dir / "pirate" / "style.toml"
    manifest.write_text(re.sub(r"max_tokens = \d+", "max_tokens = 6", manifest.read_text()))
    args = argparse.Namespace(styles_dir=styles_dir, model=str(model_dir), grid=(0.0, 1.5), threads=1, samples=2,
                              styles=["pirate"])
    assert tune(args) == 0
    record = json.loads((styles_dir / "pirate" / RECORD).read_text())
    assert [t["scale"] for t in record["trials"]] == [0.0, 1.5] and record["chosen"] in (0.0, 1.0, 1.5)
    assert record["samples"] == 2
    assert load_styles(styles_dir).get("pirate").strength == record["chosen"]


def test_tuning_a_style_without_an_adapter_is_refused_by_name(trained: tuple[Path, Path]) -> None:
    styles_dir, model_dir = trained
    args = argparse.Namespace(styles_dir=styles_dir, model=str(model_dir), grid=(1.0,), threads=1, samples=1,
                              styles=["pirate", "no-such-style"])
    with pytest.raises(SystemExit, match="styles without a trained adapter: no-such-style"):
        tune(args)


def test_a_mixed_tuning_batch_equals_each_style_asked_alone(trained: tuple[Path, Path]) -> None:
    styles_dir, model_dir = trained
    pirate = load_styles(styles_dir).get("pirate")
    style = replace(pirate, defaults={**pirate.defaults, "max_tokens": 6})
    requests = ["Say something about the number 7.", "Say something about the number 9."]
    llm = open_engine(model_dir, 1)
    params = seeded(style.sampling_params(), len(requests), SEED)
    alone = {scale: reply_all(llm, style.system_prompt, requests, params, adapter_request(style, scale))
             for scale in (0.0, 1.5)}
    assert alone[0.0] != alone[1.5]  # the scale reaches the replies
    assert mixed_replies(llm, [style], 1.5, requests) == {"pirate": alone[1.5]}
