"""The engine's one configuration object."""

from __future__ import annotations

from dataclasses import dataclass

from engine.model_store import DEFAULT_MODEL

DEFAULT_LORA_CACHE_MEMORY = 4 * 1024**3  # host bytes of loaded adapters kept for reuse
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class EngineConfig:
    """Everything that shapes one engine instance. Invalid values raise ``ValueError`` naming the field.

    ``kv_cache_memory`` is the byte budget of the paged KV cache; the number of blocks is derived
    from it and must hold at least one full ``max_model_len`` sequence. ``max_num_batched_tokens``
    is the per-step token budget (chunked prefill splits longer prompts across steps). Registered adapters
    stay loaded in host memory up to ``lora_cache_memory`` bytes (and ``max_cpu_loras`` of them, when set);
    ``max_loras`` of them at once sit in the device slots a batch reads.
    ``enable_prefix_caching`` reuses the cached keys/values of full blocks a request shares with an
    earlier one (same tokens, same adapter weights and strength) instead of computing them again.
    """

    model: str = DEFAULT_MODEL
    dtype: str = "auto"
    device: str = "auto"
    max_model_len: int = 2048
    max_num_seqs: int = 32
    max_num_batched_tokens: int = 512
    block_size: int = 16
    enable_prefix_caching: bool = True
    kv_cache_memory: int = 256 * 1024**2
    num_threads: int | None = None
    seed: int = 0
    models_dir: str | None = None
    enable_lora: bool = False
    max_loras: int = 8
    max_lora_rank: int = 16
    max_cpu_loras: int | None = None
    lora_cache_memory: int = DEFAULT_LORA_CACHE_MEMORY

    def __post_init__(self) -> None:
        checks = [
            (self.dtype in DTYPES, "dtype", f"must be one of {DTYPES}"),
            (self.device in DEVICES, "device", f"must be one of {DEVICES}"),
            (self.max_model_len >= 1, "max_model_len", "must be >= 1"),
            (self.max_num_seqs >= 1, "max_num_seqs", "must be >= 1"),
            (self.max_num_batched_tokens >= 1, "max_num_batched_tokens", "must be >= 1"),
            (self.block_size >= 1, "block_size", "must be >= 1"),
            (self.kv_cache_memory > 0, "kv_cache_memory", "must be > 0 bytes"),
            (self.num_threads is None or self.num_threads >= 1, "num_threads", "must be >= 1 or None"),
            (self.max_loras >= 1, "max_loras", "must be >= 1"),
            (self.max_lora_rank >= 1, "max_lora_rank", "must be >= 1"),
            (self.max_cpu_loras is None or self.max_cpu_loras >= self.max_loras, "max_cpu_loras",
             "must be >= max_loras or None"),
            (self.lora_cache_memory > 0, "lora_cache_memory", "must be > 0 bytes"),
        ]
        for ok, name, rule in checks:
            if not ok:
                raise ValueError(f"EngineConfig.{name} {rule}, got {getattr(self, name)!r}")

    def resolved_device(self) -> str:
        """The concrete device: "cuda" when asked for (or "auto" with a GPU present), else "cpu"."""
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("EngineConfig.device is 'cuda' but torch sees no CUDA device")
        return self.device

    def resolved_dtype(self) -> str:
        """The concrete dtype name: "auto" means bfloat16 on CUDA and on a CPU with fast bf16 matmuls
        (AMX or AVX-512 BF16), float32 on other CPUs."""
        if self.dtype != "auto":
            return self.dtype
        if self.resolved_device() == "cuda":
            return "bfloat16"
        from kernels.cpu_ext import fast_bf16_flag

        return "bfloat16" if fast_bf16_flag() else "float32"
