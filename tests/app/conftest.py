"""Live-server fixtures: uvicorn on 127.0.0.1 (a free port) serving the real engine on a tiny random model.

Ten random PEFT adapters (``a0``..``a9``, rank 4 on all seven projections) live under an adapter
root; the main server loads them with ``--lora-modules`` and serves a test style that uses ``a0``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
import uvicorn

from app.main import create_app
from app.settings import Settings

API_KEY = "test-api-key"
ADMIN_KEY = "test-admin-key"
NUM_ADAPTERS = 10
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_peft_adapters(base_dir: Path, outs: list[Path], seed: int, rank: int = 4) -> None:
    """Random PEFT LoRA folders for the model at ``base_dir``, one per ``outs`` entry.

    Every lora_A/lora_B is redrawn (B non-zero, so each adapter changes the output its own way) and
    saved by PEFT itself, so the folders are exactly what PEFT users produce.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=TARGETS))
    generator = torch.Generator().manual_seed(seed)
    for out in outs:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
        model.save_pretrained(out, safe_serialization=True)


@pytest.fixture(scope="session")
def adapter_root(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> Path:
    """A folder holding adapters a0..a9 for the tiny Llama."""
    root = tmp_path_factory.mktemp("adapters")
    make_peft_adapters(tiny_llama_dir, [root / f"a{i}" for i in range(NUM_ADAPTERS)], seed=100)
    return root


STYLE_FIELDS = dict(display_name="Test", description="Test style", system_prompt="Answer in verse.",
                    examples=["one", "two", "three"], base_model="tiny", base_model_sha256="", version="0.1",
                    data_provenance="random test adapter", license="MIT", rank=4)


def write_style(root: Path, style_id: str, adapter: Path | str, defaults: dict[str, Any],
                **fields: Any) -> Path:
    """Write ``root/<style_id>/style.toml`` (test values for every field not given)."""
    import json

    values = {"id": style_id, **STYLE_FIELDS, **fields, "adapter": str(adapter)}
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["", "[defaults]"] + [f"{key} = {json.dumps(value)}" for key, value in defaults.items()]
    folder = root / style_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "style.toml").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="session")
def styles_dir(tmp_path_factory: pytest.TempPathFactory, adapter_root: Path) -> Path:
    """One style, ``verse``, using adapter a0 with a system prompt and sampling defaults."""
    root = tmp_path_factory.mktemp("styles")
    write_style(root, "verse", adapter_root / "a0", {"temperature": 0.0, "max_tokens": 7}, display_name="Verse")
    return root


def free_socket() -> socket.socket:
    """A listening-ready socket bound to a free port on 127.0.0.1 (handed to uvicorn: no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveServer:
    """A running server: its base URL and the app (for the engine's counters)."""

    url: str
    app: Any

    @property
    def state(self) -> Any:
        """The app's state (engine, catalog, ...)."""
        return self.app.state.inkwell

    def engine_stats(self) -> dict:
        """The engine counters /health reports."""
        return httpx.get(f"{self.url}/health", timeout=10).json()["engine"]

    def wait_idle(self, timeout: float = 20.0) -> dict:
        """Wait until nothing runs, waits, holds KV blocks or streams; return the counters."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.engine_stats()
            busy = [stats.get(k, 0) for k in ("num_running", "num_waiting", "kv_blocks_used", "num_streams")]
            if not any(busy) or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)


def build_engine(model_dir: Path, **overrides: Any) -> Any:
    """The real ``LLMEngine`` on the tiny model, fp32 (outputs are compared with fp32 references), one
    thread, small context."""
    from engine.config import EngineConfig
    from engine.llm_engine import LLMEngine

    options = dict(model=str(model_dir), dtype="float32", max_model_len=256, max_num_seqs=16, num_threads=1,
                   enable_lora=True, max_loras=4, max_lora_rank=8, max_cpu_loras=16,
                   kv_cache_memory=16 * 1024**2)
    return LLMEngine(EngineConfig(**{**options, **overrides}))


@contextmanager
def live(app: Any, sock: socket.socket | None = None) -> Iterator[LiveServer]:
    """Run ``app`` under uvicorn in a background thread until the block ends.

    ``sock`` is a socket from :func:`free_socket` (pass one when the app must know its port first).
    """
    sock = sock or free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}", app)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="session")
def live_app() -> Callable[[Any], Any]:
    """``live_app(app)``: a context manager running any app on a free port."""
    return live


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> Callable[..., Any]:
    """``serve(settings_overrides, engine_overrides)``: a context manager running a tiny-model server."""

    @contextmanager
    def start(settings: dict[str, Any], engine: dict[str, Any] | None = None) -> Iterator[LiveServer]:
        db = tmp_path_factory.mktemp("db") / "inkwell.db"
        base = dict(enable_ui=False, served_model_name="tiny", database_url=f"sqlite:///{db}",
                    styles_dir=tmp_path_factory.mktemp("nostyles"))
        app = create_app(Settings(**{**base, **settings}), build_engine(tiny_llama_dir, **(engine or {})))
        with live(app) as running:
            yield running

    return start


@pytest.fixture(scope="session")
def server(serve: Callable[..., Any], adapter_root: Path, styles_dir: Path) -> Iterator[LiveServer]:
    """The main server: API and admin keys, adapters a0..a9, the ``verse`` style."""
    modules = [{"name": f"a{i}", "path": str(adapter_root / f"a{i}")} for i in range(NUM_ADAPTERS)]
    settings = dict(api_key=API_KEY, admin_key=ADMIN_KEY, adapter_roots=[adapter_root],
                    lora_modules=modules, styles_dir=styles_dir)
    with serve(settings) as live:
        yield live


@pytest.fixture()
def auth() -> dict[str, str]:
    """Headers carrying the main server's API key."""
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture()
def admin() -> dict[str, str]:
    """Headers carrying the main server's admin key."""
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture()
def client(server: LiveServer) -> Any:
    """The official OpenAI client pointed at the main server."""
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture()
async def aclient(server: LiveServer) -> AsyncIterator[Any]:
    """The official async OpenAI client pointed at the main server (closed on the test's loop)."""
    import openai

    async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0,
                                  timeout=60) as client:
        yield client
