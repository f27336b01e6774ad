"""PEFT adapter folders: what loads (and how it is scaled) and every refusal, each with its message."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Callable

import pytest
import torch
from lora_testing import TINY, tiny_llama, write_adapter
from safetensors.torch import load_file, save_file

from engine.lora.loader import TARGETS, AdapterError, BaseShapes, load_adapter

SHAPES = BaseShapes.from_hf_config(tiny_llama().config)
KEY = "base_model.model.model.layers.{}.self_attn.q_proj.lora_{}.weight"


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_adapter(tmp_path_factory.mktemp("adapters") / "a", seed=1, r=8, alpha=16)


@pytest.fixture
def copy_dir(adapter_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(adapter_dir, tmp_path / "copy"))


def edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, **changes}))


def edit_tensors(folder: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = load_file(folder / "adapter_model.safetensors")
    change(tensors)
    save_file(tensors, folder / "adapter_model.safetensors")


def test_base_shapes_from_config() -> None:
    kv = TINY["num_key_value_heads"] * TINY["hidden_size"] // TINY["num_attention_heads"]
    assert SHAPES.num_layers == 2 and SHAPES.modules["k_proj"] == (32, kv)
    assert SHAPES.modules["down_proj"] == (48, 32)


def test_loads_all_pairs_with_scaling_folded_into_b(adapter_dir: Path) -> None:
    adapter = load_adapter("a", adapter_dir, SHAPES, max_rank=16)
    raw = load_file(adapter_dir / "adapter_model.safetensors")
    assert adapter.rank == 8 and adapter.scaling == 2.0 and len(adapter.weights) == 2 * 7
    a, b = adapter.weights[(1, "q_proj")]
    assert torch.equal(a, raw[KEY.format(1, "A")])
    torch.testing.assert_close(b, raw[KEY.format(1, "B")] * 2.0)
    assert adapter.nbytes == sum(t.nbytes for t in raw.values())


def test_rslora_scales_by_sqrt_rank(tmp_path: Path) -> None:
    folder = write_adapter(tmp_path / "rs", seed=2, r=4, alpha=6, targets=["v_proj"], use_rslora=True)
    assert load_adapter("rs", folder, SHAPES, max_rank=8).scaling == pytest.approx(6 / math.sqrt(4))


def test_adapter_error_is_a_value_error() -> None:
    assert issubclass(AdapterError, ValueError)


CONFIG_REFUSALS = {
    "dora": ({"use_dora": True}, "DoRA"),
    "modules_to_save": ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    "bias": ({"bias": "all"}, "bias='all'"),
    "embedding_target": ({"target_modules": ["q_proj", "embed_tokens"]}, r"\['embed_tokens'\] are not supported"),
    "lm_head_target": ({"target_modules": ["lm_head"]}, r"\['lm_head'\] are not supported"),
    "rank_pattern": ({"rank_pattern": {"q_proj": 4}}, "rank_pattern"),
    "lora_bias": ({"lora_bias": True}, "lora_bias"),
    "not_lora": ({"peft_type": "IA3"}, "not LORA"),
    "bad_rank": ({"r": 0}, "positive integer"),
    "bool_rank": ({"r": True}, "positive integer"),
    "string_alpha": ({"lora_alpha": "16"}, "lora_alpha must be a finite positive number, got '16'"),
    "nan_alpha": ({"lora_alpha": float("nan")}, "lora_alpha must be a finite positive number"),
    "negative_alpha": ({"lora_alpha": -16}, "lora_alpha must be a finite positive number"),
    "huge_alpha": ({"lora_alpha": 1e30}, "scaling of 1.25e\\+29, above the limit 1024"),
    "string_rslora": ({"use_rslora": "yes"}, "use_rslora must be true or false"),
    "target_type": ({"target_modules": 5}, "target_modules must be a list of module names"),
}


@pytest.mark.parametrize("case", CONFIG_REFUSALS)
def test_config_refusals(copy_dir: Path, case: str) -> None:
    changes, message = CONFIG_REFUSALS[case]
    edit_config(copy_dir, **changes)
    with pytest.raises(AdapterError, match=message):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_rank_above_max_lora_rank(adapter_dir: Path) -> None:
    with pytest.raises(AdapterError, match="r=8 exceeds max_lora_rank=4"):
        load_adapter("x", adapter_dir, SHAPES, max_rank=4)


def test_shape_mismatch_with_the_base(adapter_dir: Path) -> None:
    other = BaseShapes(2, {**SHAPES.modules, "q_proj": (64, 64)})
    with pytest.raises(AdapterError, match="another model"):
        load_adapter("x", adapter_dir, other, max_rank=16)


def test_more_layers_than_the_base(adapter_dir: Path) -> None:
    with pytest.raises(AdapterError, match="targets layer 1 but the base model has 1 layers"):
        load_adapter("x", adapter_dir, BaseShapes(1, SHAPES.modules), max_rank=16)


def test_dora_magnitude_tensor(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t.update({"base_model.model.model.layers.0.self_attn.q_proj."
                                                "lora_magnitude_vector": torch.ones(32)}))
    with pytest.raises(AdapterError, match="DoRA magnitude"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_embedding_tensor(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t.update({"base_model.model.lm_head.lora_A.weight": torch.ones(8, 32)}))
    with pytest.raises(AdapterError, match="lm_head.lora_A.weight' is not a LoRA A/B weight"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_a_without_b(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t.pop(KEY.format(0, "B")))
    with pytest.raises(AdapterError, match="layers.0.q_proj has lora_A without its partner"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_non_finite_weights(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t[KEY.format(0, "A")].fill_(float("nan")))
    with pytest.raises(AdapterError, match="NaN or Inf"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_non_finite_weights_name_their_layer(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t[KEY.format(1, "B")][3, 2].fill_(float("inf")))
    with pytest.raises(AdapterError, match=r"layers\.1\.q_proj: weights contain NaN or Inf"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_bf16_cast_keeps_every_pair(adapter_dir: Path) -> None:
    adapter = load_adapter("a", adapter_dir, SHAPES, max_rank=16)
    cast = adapter.to(torch.bfloat16)
    assert cast.weights.keys() == adapter.weights.keys() and cast.nbytes * 2 == adapter.nbytes
    for key, (a, b) in adapter.weights.items():
        assert torch.equal(cast.weights[key][0], a.bfloat16()) and torch.equal(cast.weights[key][1], b.bfloat16())


def test_missing_folder_says_so_without_the_path(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="does not exist") as refused:
        load_adapter("x", tmp_path / "nope", SHAPES, max_rank=16)
    assert str(tmp_path) not in str(refused.value)


def base_norms(scale: float = 1.0) -> dict[tuple[int, str], float]:
    """Frobenius norms of the tiny Llama's weights per (layer, target), times ``scale``."""
    layers = tiny_llama().model.layers
    return {(i, target): float(getattr(getattr(layer, "mlp" if target in ("gate_proj", "up_proj", "down_proj")
                                               else "self_attn"), target).weight.detach().norm()) * scale
            for i, layer in enumerate(layers) for target in TARGETS}


def test_an_update_within_bounds_of_the_base_loads(adapter_dir: Path) -> None:
    shapes = BaseShapes(SHAPES.num_layers, SHAPES.modules, base_norms())
    assert load_adapter("a", adapter_dir, shapes, max_rank=16).scaling == 2.0


def test_an_update_absurd_beside_the_base_is_refused(adapter_dir: Path) -> None:
    shapes = BaseShapes(SHAPES.num_layers, SHAPES.modules, base_norms(scale=1e-4))
    with pytest.raises(AdapterError, match=r"layers\.0\.\w+_proj: the update.s norm .* times the base weight.s"):
        load_adapter("a", adapter_dir, shapes, max_rank=16)


def test_an_update_that_overflows_is_refused(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: t[KEY.format(0, "B")].fill_(1e30))
    with pytest.raises(AdapterError, match="layers.0.q_proj: the update B·A overflows"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_weights_that_overflow_the_serving_dtype_are_refused(copy_dir: Path) -> None:
    edit_tensors(copy_dir, lambda t: (t[KEY.format(0, "B")].fill_(1e6), t[KEY.format(0, "A")].fill_(1e-8)))
    adapter = load_adapter("x", copy_dir, SHAPES, max_rank=16)
    with pytest.raises(AdapterError, match="overflow torch.float16"):
        adapter.to(torch.float16)


def test_missing_config(copy_dir: Path) -> None:
    (copy_dir / "adapter_config.json").unlink()
    with pytest.raises(AdapterError, match="adapter_config.json is missing"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_corrupt_config(copy_dir: Path) -> None:
    (copy_dir / "adapter_config.json").write_text("{not json")
    with pytest.raises(AdapterError, match="adapter_config.json is corrupt"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_missing_weights(copy_dir: Path) -> None:
    (copy_dir / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterError, match="adapter_model.safetensors is missing"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_corrupt_weights(copy_dir: Path) -> None:
    (copy_dir / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00garbage")
    with pytest.raises(AdapterError, match="adapter_model.safetensors is corrupt"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)


def test_bin_only_says_how_to_convert(copy_dir: Path) -> None:
    tensors = load_file(copy_dir / "adapter_model.safetensors")
    (copy_dir / "adapter_model.safetensors").unlink()
    torch.save(tensors, copy_dir / "adapter_model.bin")
    with pytest.raises(AdapterError, match="only adapter_model.bin.*convert it with"):
        load_adapter("x", copy_dir, SHAPES, max_rank=16)
