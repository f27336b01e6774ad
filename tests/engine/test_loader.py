"""Loading checkpoints: sharded == single file, fused weights in place, clear errors on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.config import EngineConfig
from engine.kv_cache import num_blocks_for
from engine.loader import load_model, read_model_args


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_sharded_checkpoint_loads_the_same_weights(tiny_llama_dir: Path, tmp_path: Path) -> None:
    sharded = tmp_path / "sharded"
    AutoModelForCausalLM.from_pretrained(tiny_llama_dir).save_pretrained(sharded, max_shard_size="20KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    one, many = load_model(tiny_llama_dir, torch.float32, "cpu"), load_model(sharded, torch.float32, "cpu")
    for (name, a), (_, b) in zip(one.state_dict().items(), many.state_dict().items()):
        assert torch.equal(a, b), name


def test_fused_projections_hold_the_hf_weights(tiny_llama_dir: Path) -> None:
    ours = load_model(tiny_llama_dir, torch.float32, "cpu")
    ref = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).model.layers[1]
    layer = ours.layers[1]
    q, k, v = layer.self_attn.qkv_proj.weight.split(layer.self_attn.qkv_proj.output_sizes)
    assert torch.equal(q, ref.self_attn.q_proj.weight) and torch.equal(v, ref.self_attn.v_proj.weight)
    gate, up = layer.mlp.gate_up_proj.weight.split(layer.mlp.gate_up_proj.output_sizes)
    assert torch.equal(gate, ref.mlp.gate_proj.weight) and torch.equal(up, ref.mlp.up_proj.weight)


def test_unknown_architecture_names_the_supported_ones(tiny_llama_dir: Path, tmp_path: Path) -> None:
    bad = _copy(tiny_llama_dir, tmp_path / "gpt2")
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ValueError, match="GPT2LMHeadModel.*supported: LlamaForCausalLM, MistralForCausalLM"):
        read_model_args(bad)


def test_missing_and_corrupt_weight_files_are_named(tiny_llama_dir: Path, tmp_path: Path) -> None:
    missing = _copy(tiny_llama_dir, tmp_path / "missing")
    (missing / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_model(missing, torch.float32, "cpu")
    corrupt = _copy(tiny_llama_dir, tmp_path / "corrupt")
    data = (corrupt / "model.safetensors").read_bytes()
    (corrupt / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"corrupt weight file .*corrupt/model.safetensors"):
        load_model(corrupt, torch.float32, "cpu")


def test_config_checks_name_the_field() -> None:
    with pytest.raises(ValueError, match="EngineConfig.dtype"):
        EngineConfig(dtype="float8")
    with pytest.raises(ValueError, match="EngineConfig.block_size"):
        EngineConfig(block_size=0)


def test_kv_budget_too_small_for_one_sequence_is_explained(tiny_llama_dir: Path) -> None:
    args = read_model_args(tiny_llama_dir)
    with pytest.raises(ValueError, match="max_model_len=512 needs 32"):
        num_blocks_for(args, 16, torch.float32, 1000, 512)
