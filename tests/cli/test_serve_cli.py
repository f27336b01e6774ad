"""The serve flags and INKWELL_* variables become Settings the way vLLM users expect."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.adapter_paths import resolve_under_roots
from cli.serve import configure, parse_lora_module, settings_from_args
from app.settings import PACKAGED_STYLES_DIR, Settings


def parse(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    configure(parser)
    return settings_from_args(parser.parse_args(list(argv)))


def test_flags_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKWELL_API_KEY", "from-env")
    monkeypatch.setenv("INKWELL_PORT", "9001")
    settings = parse("--port", "9002", "--max-loras", "3", "--no-enable-lora", "--share")
    assert (settings.api_key, settings.port, settings.max_loras) == ("from-env", 9002, 3)
    assert settings.enable_lora is False and settings.share is True


def test_allow_guests_flag() -> None:
    assert parse("--api-key", "k").guests_allowed is False
    assert parse("--api-key", "k", "--allow-guests").guests_allowed is True
    assert parse("--no-allow-guests").guests_allowed is False


def test_lora_modules_accept_name_path_and_json() -> None:
    settings = parse("--lora-modules", "poetry=/srv/poetry", '{"name": "legal", "path": "/srv/legal", '
                     '"base_model_name": "smollm2-135m"}')
    assert settings.lora_modules == [
        {"name": "poetry", "path": "/srv/poetry"},
        {"name": "legal", "path": "/srv/legal", "base_model_name": "smollm2-135m"},
    ]
    for bad in ("no-equals-sign", '{"name": "x"}', "{broken"):
        with pytest.raises(argparse.ArgumentTypeError, match="lora-modules"):
            parse_lora_module(bad)


def test_adapter_roots_from_env_are_colon_separated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INKWELL_ADAPTER_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    roots = Settings().all_adapter_roots()
    assert roots == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve(), PACKAGED_STYLES_DIR]


def test_resolve_under_roots_refuses_escapes(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "ok").mkdir(parents=True)
    outside.mkdir()
    (root / "sneaky").symlink_to(outside)
    assert resolve_under_roots(str(root / "ok"), [root.resolve()]) == (root / "ok").resolve()
    for path in (str(outside), str(root / ".." / "outside"), str(root / "sneaky")):
        with pytest.raises(ValueError, match="outside the adapter roots"):
            resolve_under_roots(path, [root.resolve()])
    with pytest.raises(ValueError, match="not an existing adapter folder"):
        resolve_under_roots(str(root / "missing"), [root.resolve()])


def test_engine_flags_reach_the_engine_config(monkeypatch: pytest.MonkeyPatch, tiny_llama_dir: Path) -> None:
    import app.bootstrap as bootstrap

    seen = {}
    monkeypatch.setattr("engine.llm_engine.LLMEngine", lambda config: seen.setdefault("config", config))
    settings = parse("--model", str(tiny_llama_dir), "--device", "cpu", "--kv-cache-memory-gb", "0.5",
                     "--max-num-batched-tokens", "256", "--dtype", "float32", "--lora-cache-memory-gb", "0.25",
                     "--max-cpu-loras", "12")
    bootstrap.build_engine(settings)
    config = seen["config"]
    assert (config.device, config.dtype) == ("cpu", "float32")
    assert config.kv_cache_memory == 512 * 1024**2 and config.max_num_batched_tokens == 256
    assert config.lora_cache_memory == 256 * 1024**2 and config.max_cpu_loras == 12
