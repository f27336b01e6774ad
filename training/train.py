"""``inkwell train-style ID``: fit a LoRA adapter for one style on the embedded base (transformers + PEFT).

The adapter is saved in PEFT format with bf16 weights into ``styles/<id>/adapter/``, beside a loss curve
(``styles/<id>/loss.png``) and ``training.json`` (the settings and figures that reproduce it); the manifest
then points at it and records the sha256 of the base weights it was trained on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from engine.model_store import DEFAULT_MODEL, resolve_model
from training.chat_format import encode_pair
from training.corpora import sha256_of
from training.data import SEED, style_split
from styles.manifest import MANIFEST_NAME, set_fields
from training.plots import save_loss_curve
from styles.registry import STYLES_DIR, load_styles
from training.top_stack import TopStack, pad_states, prefix_states, top_loss, top_stack

log = logging.getLogger(__name__)

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines an adapter besides the data."""

    steps: int = 24
    batch_size: int = 4
    lr: float = 3e-3
    warmup: int = 3
    rank: int = 8
    upper_layers: int = 4  # LoRA on the last N decoder layers only
    max_len: int = 72
    seed: int = SEED
    epochs: int = 1  # passes over steps * batch_size / epochs distinct examples
    bf16: bool = False  # bf16 autocast of the forward (AMX / avx512_bf16 hosts); weights stay fp32
    threads: int = 0  # torch threads; 0 keeps torch's default


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inkwell train-style``."""
    defaults = TrainConfig()
    parser.add_argument("style_id", help="the style to train, e.g. poetry")
    parser.add_argument("--styles-dir", type=Path, default=STYLES_DIR, help="folder holding <id>/style.toml")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="base model name or HF folder")
    for name in ("steps", "batch_size", "rank", "upper_layers", "max_len", "seed", "warmup", "epochs"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: default)")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=defaults.bf16,
                        help="bf16 autocast of the forward pass (faster on CPUs with AMX or avx512_bf16)")


def run(args: argparse.Namespace) -> int:
    """CLI entry: train and save one adapter."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    fields = {k: getattr(args, k) for k in asdict(TrainConfig())}
    train_style(args.style_id, TrainConfig(**fields), args.styles_dir, args.model)
    return 0


def train_style(style_id: str, config: TrainConfig, styles_dir: Path, model_name: str) -> Path:
    """Train the style's adapter, save it with its loss curve, update the manifest; returns the adapter dir."""
    style = load_styles(styles_dir).get(style_id)
    model_dir = resolve_model(model_name)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    tokenizer, model = _load_lora_model(model_dir, config)
    train, held = style_split(style_id, config.seed)
    examples = _encode(tokenizer, style.system_prompt, train, config)
    log.info("%s: %d training examples drawn, %d held out", style_id, len(examples), len(held))
    started = time.monotonic()
    stack, losses = _fit(model, examples, config)
    seconds = round(time.monotonic() - started, 1)
    held_loss = _held_out_loss(stack, _encode(tokenizer, style.system_prompt, held, config), config)
    record = {"config": asdict(config), "train_examples": len(examples), "held_out": len(held),
              "seconds": seconds, "first_loss": losses[0], "last_loss": sum(losses[-10:]) / len(losses[-10:]),
              "held_out_loss": held_loss, "losses": [round(x, 4) for x in losses],
              "command": _command(style_id, config)}
    folder = styles_dir / style_id
    adapter_dir = _save_adapter(model, folder / "adapter", style.base_model)
    (adapter_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    save_loss_curve(losses, folder / "loss.png", f"{style_id}: training loss")
    set_fields(folder / MANIFEST_NAME, {"adapter": "adapter", "rank": config.rank,
                                        "base_model_sha256": sha256_of(model_dir / "model.safetensors")})
    log.info("%s: saved %s after %.0f s of training; held-out loss %.3f", style_id, adapter_dir, seconds, held_loss)
    return adapter_dir


def _command(style_id: str, config: TrainConfig) -> str:
    """The exact command line that reproduces this adapter."""
    flags = " ".join(_flag(k, v) for k, v in asdict(config).items())
    return f"inkwell train-style {style_id} {flags}"


def _flag(name: str, value: object) -> str:
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


def _load_lora_model(model_dir: Path, config: TrainConfig):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    n_layers = base.config.num_hidden_layers
    lora = LoraConfig(
        r=config.rank, lora_alpha=2 * config.rank, lora_dropout=0.05, target_modules=TARGET_MODULES,
        layers_to_transform=list(range(n_layers - config.upper_layers, n_layers)), task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(base, lora)


def _encode(tokenizer, system: str, pairs: list, config: TrainConfig) -> list[tuple[list[int], list[int]]]:
    """Encode pairs (already shuffled) until ``steps * batch_size / epochs`` examples are ready."""
    wanted, examples = max(1, config.steps * config.batch_size // config.epochs), []
    for pair in pairs:
        if (encoded := encode_pair(tokenizer, system, pair, config.max_len)) is not None:
            examples.append(encoded)
        if len(examples) == wanted:
            break
    return examples


def _batches(count: int, config: TrainConfig):
    """Yield ``steps`` lists of example indices, drawn by a seeded shuffle of every example per pass."""
    rng, order = random.Random(config.seed), []
    for _ in range(config.steps):
        if len(order) < config.batch_size:
            order += rng.sample(range(count), count)
        yield order[: config.batch_size]
        order = order[config.batch_size :]


def _fit(model, examples: list[tuple[list[int], list[int]]], config: TrainConfig) -> tuple[TopStack, list[float]]:
    """AdamW with linear warm-up and decay over fp32 weights (bf16 autocast optional); every step's loss.

    The frozen layers below the adapted ones run once per example (``training.top_stack``); each step runs
    the adapted layers and the LM head at the reply positions only.
    """
    stack = top_stack(model, config.upper_layers)
    if config.bf16:  # frozen weights in bf16 once, not re-cast by autocast at every step
        for param in model.parameters():
            param.data = param.data if param.requires_grad else param.data.to(torch.bfloat16)
    with _autocast(config):
        states = prefix_states(stack, [ids for ids, _ in examples])
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / config.warmup, max(0.0, (config.steps - s) / (config.steps - config.warmup)))
    )
    model.train()
    losses = []
    bar = tqdm(_batches(len(examples), config), total=config.steps, desc="training", unit="step")
    for chosen in bar:
        hidden, labels = pad_states([states[i] for i in chosen], [examples[i][1] for i in chosen])
        with _autocast(config):
            loss = top_loss(stack, hidden, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return stack, losses


@torch.no_grad()
def _held_out_loss(stack: TopStack, examples: list[tuple[list[int], list[int]]], config: TrainConfig) -> float:
    """Held-out loss of the trained adapter: the mean of its token-mean losses over batches of 8 pairs."""
    if not examples:
        return float("nan")
    stack.head.eval()
    for layer in stack.upper:
        layer.eval()
    with _autocast(config):
        states = prefix_states(stack, [ids for ids, _ in examples])
        losses = [top_loss(stack, *pad_states(states[i:i + 8], [y for _, y in examples[i:i + 8]])).item()
                  for i in range(0, len(examples), 8)]
    return sum(losses) / len(losses)


def _autocast(config: TrainConfig) -> torch.autocast:
    """bf16 autocast on the CPU when ``config.bf16`` (a no-op context otherwise)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16)


def _save_adapter(model, adapter_dir: Path, base_model: str) -> Path:
    """Save the PEFT folder with bf16 LoRA weights and a portable base model name."""
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.to(torch.bfloat16)
    model.peft_config["default"].base_model_name_or_path = base_model
    model.save_pretrained(adapter_dir, safe_serialization=True, save_embedding_layers=False)
    (adapter_dir / "README.md").unlink(missing_ok=True)  # PEFT's empty model-card template
    return adapter_dir
