"""``inkwell serve`` defaults: the embedded SmolLM2-135M and the packaged styles answer the official client."""

from __future__ import annotations

import argparse
from pathlib import Path

import openai
import pytest

from app.main import create_app
from cli.serve import configure, settings_from_args
from app.settings import PACKAGED_STYLES_DIR


@pytest.mark.slow
def test_serve_defaults_answer_the_official_client(live_app, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    # fp32: the reference reply in ENVIRONMENT.md is fp32's (auto picks bf16 on CPUs with fast bf16)
    args = parser.parse_args(["--no-ui", "--threads", "1", "--max-model-len", "512", "--dtype", "float32",
                              "--database-url", f"sqlite:///{tmp_path / 'inkwell.db'}"])
    settings = settings_from_args(args)
    assert (settings.model, settings.host, settings.port) == ("smollm2-135m", "127.0.0.1", 7860)
    assert settings.styles_dir == PACKAGED_STYLES_DIR
    with live_app(create_app(settings)) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
        served = {m.id for m in client.models.list().data}
        assert "smollm2-135m" in served
        assert {m.name for m in server.state.catalog.all() if m.kind == "style"} <= served
        resp = client.chat.completions.create(
            model="smollm2-135m", messages=[{"role": "user", "content": "Write a short poem about GPUs"}],
            temperature=0.0, max_tokens=24)
    assert resp.usage.prompt_tokens == 36  # ENVIRONMENT.md: the ChatML prompt is 36 tokens
    assert resp.choices[0].message.content.startswith("In the depths of my soul, a GPU is a machine")
