"""Build a ``Transformer`` from a Hugging Face model directory (config.json + safetensors).

q/k/v and gate/up weights are fused into the model's ``qkv_proj`` and ``gate_up_proj`` on load.
Single files (``model.safetensors``) and shards (``model.safetensors.index.json``) both work.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from engine.model import ModelArgs, Transformer

log = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")
SUPPORTED_ROPE = ("default", "llama3", "linear")
_FUSED = {"q_proj": ("qkv_proj", 0), "k_proj": ("qkv_proj", 1), "v_proj": ("qkv_proj", 2),
          "gate_proj": ("gate_up_proj", 0), "up_proj": ("gate_up_proj", 1)}
_FUSED_NAME = re.compile(r"\.(q_proj|k_proj|v_proj|gate_proj|up_proj)\.(weight|bias)$")


def read_model_args(model_dir: Path) -> ModelArgs:
    """Parse config.json; unknown architectures or rope types raise ``ValueError`` naming the supported."""
    cfg = json.loads((model_dir / "config.json").read_text())
    archs = cfg.get("architectures") or []
    if not any(a in SUPPORTED_ARCHITECTURES for a in archs):
        raise ValueError(f"{model_dir / 'config.json'}: architecture {archs} is not supported; "
                         f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}")
    rope = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    rope.setdefault("rope_type", rope.pop("type", "default"))
    if rope["rope_type"] not in SUPPORTED_ROPE:
        raise ValueError(f"rope type {rope['rope_type']!r} is not supported; supported: {SUPPORTED_ROPE}")
    heads = cfg["num_attention_heads"]
    return ModelArgs(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"], num_layers=cfg["num_hidden_layers"],
        num_heads=heads, num_kv_heads=cfg.get("num_key_value_heads") or heads,
        head_dim=cfg.get("head_dim") or cfg["hidden_size"] // heads,
        rms_norm_eps=cfg.get("rms_norm_eps", 1e-5),
        rope_theta=rope.get("rope_theta", cfg.get("rope_theta", 10000.0)),
        rope_scaling=rope if rope["rope_type"] != "default" else None,
        max_position_embeddings=cfg.get("max_position_embeddings", 4096),
        tie_word_embeddings=cfg.get("tie_word_embeddings", False),
        sliding_window=cfg.get("sliding_window") if "Mistral" in " ".join(archs) else None,
        attention_bias=cfg.get("attention_bias", False), mlp_bias=cfg.get("mlp_bias", False),
    )


def load_model(model_dir: str | Path, dtype: torch.dtype, device: str | torch.device) -> Transformer:
    """Materialize the model in ``dtype`` on ``device`` and fill it from the checkpoint's safetensors."""
    model_dir = Path(model_dir)
    args = read_model_args(model_dir)
    with torch.device("meta"):
        model = Transformer(args)
    model = model.to(dtype).to_empty(device=device)
    model.init_rope()
    if args.tie_word_embeddings:  # to_empty() gives the tied head its own storage: share it again
        model.lm_head.weight = model.embed_tokens.weight
    filled = set()
    for file in weight_files(model_dir):
        filled |= _load_file(model, file)
    expected = {n for n, _ in model.named_parameters()}
    missing = sorted(expected - filled)
    if missing:
        raise ValueError(f"{model_dir}: checkpoint lacks weights for {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    log.info("loaded %s (%d layers, %s, %s)", model_dir.name, args.num_layers, dtype, device)
    return model.eval()


def weight_files(model_dir: Path) -> list[Path]:
    """The safetensors files of a checkpoint; a missing file raises ``FileNotFoundError`` naming it."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        files = [model_dir / n for n in names]
    else:
        files = [model_dir / "model.safetensors"]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"weight file missing: {file}")
    return files


def _load_file(model: Transformer, file: Path) -> set[str]:
    """Copy every tensor of one safetensors file into the model; return the parameter names filled."""
    params = dict(model.named_parameters(remove_duplicate=False))
    filled = set()
    try:
        with safe_open(str(file), framework="pt", device="cpu") as f:
            for key in f.keys():
                name = _target_name(key)
                if name is None:
                    continue
                if name not in params:
                    raise ValueError(f"{file}: unexpected tensor {key!r} for this architecture")
                _copy_into(params[name], _part_slice(model.args, key), f.get_tensor(key), f"{file}: {key!r}")
                filled.add(name)
    except SafetensorError as exc:
        raise ValueError(f"corrupt weight file {file}: {exc}") from exc
    return filled


def _target_name(key: str) -> str | None:
    """HF tensor name -> our parameter name (``model.`` prefix dropped, q/k/v and gate/up fused)."""
    if key.endswith("rotary_emb.inv_freq"):
        return None
    key = key.removeprefix("model.")
    match = _FUSED_NAME.search(key)
    if match:
        return key[: match.start()] + f".{_FUSED[match.group(1)][0]}.{match.group(2)}"
    return key


def _part_slice(args: ModelArgs, key: str) -> slice:
    """The rows of the (possibly fused) parameter that tensor ``key`` fills."""
    match = _FUSED_NAME.search(key)
    if not match:
        return slice(None)
    _, part = _FUSED[match.group(1)]
    if match.group(1) in ("gate_proj", "up_proj"):
        sizes = (args.intermediate_size,) * 2
    else:
        sizes = (args.num_heads * args.head_dim,) + (args.num_kv_heads * args.head_dim,) * 2
    start = sum(sizes[:part])
    return slice(start, start + sizes[part])


def _copy_into(param: torch.nn.Parameter, rows: slice, tensor: torch.Tensor, what: str) -> None:
    """Copy a tensor into its rows of a parameter, checking the shape."""
    target = param.data[rows]
    if target.shape != tensor.shape:
        raise ValueError(f"{what} has shape {tuple(tensor.shape)}, expected {tuple(target.shape)}")
    with torch.no_grad():
        target.copy_(tensor)
