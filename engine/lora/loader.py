"""Load a PEFT LoRA folder (``adapter_config.json`` + ``adapter_model.safetensors``) into checked tensors.

Everything an adapter could get wrong is refused here, at load time, with an :class:`AdapterError`
that says what and why (the server turns it into HTTP 400). The adapter scaling (``lora_alpha / r``,
or ``/ sqrt(r)`` with rsLoRA) is folded into B, so the kernels only apply the per-request strength.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from engine.lora.weights import AdapterError, LoadedAdapter, TargetStack, fail as _fail

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# fused module of the model -> the PEFT target modules it packs, in output order
FUSED_TARGETS: dict[str, tuple[str, ...]] = {
    "qkv_proj": ("q_proj", "k_proj", "v_proj"),
    "o_proj": ("o_proj",),
    "gate_up_proj": ("gate_proj", "up_proj"),
    "down_proj": ("down_proj",),
}
_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(" + "|".join(TARGETS) + r")\.lora_([AB])\.weight$")
MAX_SCALING = 1024.0  # lora_alpha / r (or / sqrt(r)) above this is refused; trained adapters use ~0.5-16
MAX_DELTA_RATIO = 100.0  # ||scaling * B A|| / ||W|| above this is refused; trained adapters stay below ~0.1
_CONVERT_HINT = (
    "convert it with: PeftModel.from_pretrained(base, path).save_pretrained(out_dir, safe_serialization=True), "
    "or safetensors.torch.save_file(torch.load('adapter_model.bin'), 'adapter_model.safetensors')"
)


@dataclass(frozen=True)
class BaseShapes:
    """What an adapter must fit: the layer count and ``(in_features, out_features)`` per target module.

    ``weight_norms[(layer, target)]`` (Frobenius norms of the base weights, when known) bound how large
    an adapter's update may be: see ``MAX_DELTA_RATIO``.
    """

    num_layers: int
    modules: dict[str, tuple[int, int]]
    weight_norms: dict[tuple[int, str], float] = field(default_factory=dict)

    @classmethod
    def from_hf_config(cls, config: Any) -> BaseShapes:
        """Shapes of a Llama/Mistral-style decoder from its Hugging Face config."""
        hidden, inter = config.hidden_size, config.intermediate_size
        head_dim = getattr(config, "head_dim", None) or hidden // config.num_attention_heads
        q, kv = config.num_attention_heads * head_dim, config.num_key_value_heads * head_dim
        modules = {"q_proj": (hidden, q), "k_proj": (hidden, kv), "v_proj": (hidden, kv), "o_proj": (q, hidden),
                   "gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden)}
        return cls(config.num_hidden_layers, modules)


def _read_config(name: str, folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise _fail(name, "its folder does not exist (deleted or moved?)")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise _fail(name, f"{CONFIG_FILE} is missing in its folder (not a PEFT adapter folder?)")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _fail(name, f"{CONFIG_FILE} is corrupt: {err}") from err
    except OSError as err:
        raise _fail(name, f"{CONFIG_FILE} cannot be read: {err.strerror}") from err
    if not isinstance(config, dict):
        raise _fail(name, f"{CONFIG_FILE} must hold a JSON object")
    return config


# config fields that change what the weights mean; any truthy value is refused
_UNSUPPORTED = {
    "lora_bias": "a bias on lora_B", "fan_in_fan_out": "transposed (Conv1D) weights",
    "trainable_token_indices": "trained embedding rows", "layer_replication": "replicated layers",
    "target_parameters": "LoRA on raw parameters", "alora_invocation_tokens": "activated LoRA (aLoRA)",
}


def _check_config(name: str, config: dict[str, Any], max_rank: int) -> None:
    refusals = [(bool(config.get(key)), f"{key} ({what}) is not supported") for key, what in _UNSUPPORTED.items()]
    refusals += [
        (config.get("peft_type", "LORA") != "LORA", f"peft_type {config.get('peft_type')!r} is not LORA"),
        (bool(config.get("use_dora")), "DoRA (use_dora) is not supported: its magnitude vector needs a merge"),
        (bool(config.get("modules_to_save")),
         f"modules_to_save {config.get('modules_to_save')} would replace base weights; only LoRA deltas are served"),
        (config.get("bias", "none") != "none", f"bias={config.get('bias')!r}: only bias='none' is supported"),
        (bool(config.get("rank_pattern")) or bool(config.get("alpha_pattern")),
         "rank_pattern / alpha_pattern (per-module ranks) are not supported"),
    ]
    for refused, why in refusals:
        if refused:
            raise _fail(name, why)
    _check_targets(name, config.get("target_modules"))
    rank = config.get("r")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise _fail(name, f"r must be a positive integer, got {rank!r}")
    if rank > max_rank:
        raise _fail(name, f"rank r={rank} exceeds max_lora_rank={max_rank}; raise max_lora_rank or retrain")


def _scaling(name: str, config: dict[str, Any], rank: int) -> float:
    """``lora_alpha / r`` (``/ sqrt(r)`` with rsLoRA), checked to be a finite, positive, bounded number."""
    alpha = config.get("lora_alpha", rank)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
        raise _fail(name, f"lora_alpha must be a finite positive number, got {alpha!r}")
    rslora = config.get("use_rslora", False)
    if not isinstance(rslora, bool):
        raise _fail(name, f"use_rslora must be true or false, got {rslora!r}")
    scaling = alpha / math.sqrt(rank) if rslora else alpha / rank
    if scaling > MAX_SCALING:
        raise _fail(name, f"lora_alpha {alpha:g} gives a scaling of {scaling:.3g}, above the limit {MAX_SCALING:g}; "
                          "is lora_alpha a typo?")
    return scaling


def _check_targets(name: str, targets: Any) -> None:
    if isinstance(targets, str):
        return  # a regex: the tensor names are checked one by one instead
    if targets is not None and not (isinstance(targets, list) and all(isinstance(t, str) for t in targets)):
        raise _fail(name, f"target_modules must be a list of module names or a regex, got {targets!r}")
    bad = sorted(set(targets or ()) - set(TARGETS))
    if bad:
        raise _fail(name, f"target_modules {bad} are not supported (embeddings and lm_head included); "
                          f"supported: {list(TARGETS)}")


def _read_tensors(name: str, folder: Path) -> dict[str, torch.Tensor]:
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        if (folder / "adapter_model.bin").is_file():
            raise _fail(name, f"only adapter_model.bin (pickle) found; {WEIGHTS_FILE} is required: {_CONVERT_HINT}")
        raise _fail(name, f"{WEIGHTS_FILE} is missing in its folder")
    try:
        return load_file(str(weights_path))
    except OSError as err:
        raise _fail(name, f"{WEIGHTS_FILE} cannot be read: {err.strerror}") from err
    except (SafetensorError, ValueError) as err:
        raise _fail(name, f"{WEIGHTS_FILE} is corrupt: {err}") from err


def _parse_key(name: str, key: str, num_layers: int) -> tuple[int, str, str]:
    if "lora_magnitude_vector" in key:
        raise _fail(name, f"tensor {key!r} is a DoRA magnitude vector; DoRA is not supported")
    match = _KEY.search(key)
    if match is None:
        raise _fail(name, f"tensor {key!r} is not a LoRA A/B weight of {list(TARGETS)} "
                          "(embedding, lm_head and modules_to_save tensors are not supported)")
    layer = int(match.group(1))
    if layer >= num_layers:
        raise _fail(name, f"tensor {key!r} targets layer {layer} but the base model has {num_layers} layers")
    return layer, match.group(2), match.group(3)


def _check_pair(name: str, where: str, a: torch.Tensor, b: torch.Tensor, rank: int, shape: tuple[int, int]) -> None:
    in_features, out_features = shape
    if tuple(a.shape) != (rank, in_features) or tuple(b.shape) != (out_features, rank):
        raise _fail(name, f"{where}: lora_A {tuple(a.shape)} / lora_B {tuple(b.shape)} do not fit the base "
                          f"(expected {(rank, in_features)} / {(out_features, rank)}); "
                          "is this adapter for another model or rank?")


def _pair_up(name: str, tensors: dict[str, torch.Tensor], shapes: BaseShapes,
             rank: int) -> dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]:
    halves: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        layer, target, half = _parse_key(name, key, shapes.num_layers)
        halves.setdefault((layer, target), {})[half] = tensor
    pairs = {}
    for (layer, target), found in sorted(halves.items()):
        where = f"layers.{layer}.{target}"
        if set(found) != {"A", "B"}:
            raise _fail(name, f"{where} has lora_{''.join(found)} without its partner")
        _check_pair(name, where, found["A"], found["B"], rank, shapes.modules[target])
        pairs[(layer, target)] = (found["A"], found["B"])
    if not pairs:
        raise _fail(name, f"{WEIGHTS_FILE} holds no LoRA weights")
    return pairs


def load_adapter(name: str, path: str | Path, shapes: BaseShapes, max_rank: int) -> LoadedAdapter:
    """Read and validate the PEFT folder ``path`` against the base ``shapes``; fp32 tensors on the CPU.

    Raises :class:`AdapterError` for anything that cannot be served exactly.
    """
    folder = Path(path)
    config = _read_config(name, folder)
    _check_config(name, config, max_rank)
    rank = config["r"]
    scaling = _scaling(name, config, rank)
    stacks = _stack(_pair_up(name, _read_tensors(name, folder), shapes, rank), scaling)
    problems = [problem for target, stack in stacks.items()
                for problem in _check_updates(target, stack, shapes.weight_norms)]
    if problems:
        raise _fail(name, min(problems)[2])
    return LoadedAdapter(name, str(folder), rank, scaling, stacks)


def _stack(pairs: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]], scaling: float) -> dict[str, TargetStack]:
    """fp32 stacks per target (in ``TARGETS`` order), B scaled by ``scaling``."""
    stacks = {}
    for target in TARGETS:
        layers = tuple(layer for layer, t in pairs if t == target)  # pairs are sorted by (layer, target)
        if layers:
            a = torch.stack([pairs[(layer, target)][0] for layer in layers]).float()  # [L, r, in]
            b = torch.stack([pairs[(layer, target)][1] for layer in layers]).float().mul_(scaling)  # [L, out, r]
            stacks[target] = TargetStack(layers, a, b)
    return stacks


def _check_updates(target: str, stack: TargetStack,
                   base_norms: dict[tuple[int, str], float]) -> list[tuple[int, int, str]]:
    """``(layer, target index, message)`` for every layer whose weights hold NaN/Inf, whose update ``B A``
    overflows, or whose update is absurd beside the base weight (``MAX_DELTA_RATIO``)."""
    # ||B A||_F^2 = sum((B^T B) * (A A^T)): [L, r, r] products instead of the [L, out, in] updates
    squared = ((stack.b.transpose(1, 2) @ stack.b) * (stack.a @ stack.a.transpose(1, 2))).sum((1, 2)).tolist()  # [L]
    non_finite = stack.non_finite_layers() if not all(map(math.isfinite, squared)) else []
    problems = []
    for layer, value in zip(stack.layers, squared):
        where, order = f"layers.{layer}.{target}", (layer, TARGETS.index(target))
        if not math.isfinite(value):
            problems.append((*order, f"{where}: weights contain NaN or Inf" if layer in non_finite else
                             f"{where}: the update B·A overflows (lora_alpha or the weights are far too large)"))
            continue
        norm, base = math.sqrt(max(0.0, value)), base_norms.get((layer, target))  # rounding may leave a tiny negative
        if base is not None and norm > MAX_DELTA_RATIO * base:
            problems.append((*order, f"{where}: the update's norm {norm:.3g} is {norm / max(base, 1e-30):.3g} "
                                     f"times the base weight's (limit {MAX_DELTA_RATIO:g}x): lora_alpha or the "
                                     "weights are far too large"))
    return problems
