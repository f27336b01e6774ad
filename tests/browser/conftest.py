"""Browser-test fixtures: the whole app (API + UI) on a tiny random model, and Debian's Chromium.

The server is ``app.main.create_app`` with the real engine on the tiny Llama and three styles, each on
its own random adapter, that never stop early (``ignore_eos``) so streaming lasts long enough to see.
Chromium comes from apt (``scripts/system-deps.sh``); without it these tests skip, unless
``INKWELL_REQUIRE_SYSTEM_TESTS=1`` (CI), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.app.conftest import build_engine, free_socket, live, make_peft_adapters
from tests.conftest import make_tiny_model_dir

CHROMIUM = "/usr/bin/chromium"
MAX_TOKENS = 500  # byte-level tiny tokenizer: up to 500 characters, ~5-10 ms a token: a few seconds
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
STYLES = {"verse": ("Verse", "Short lines that sing."), "pirate": ("Pirate", "Arr, says the sea dog."),
          "legal": ("Legal", "Whereas the party of the first part.")}
STYLE_TOML = """id = "{id}"
display_name = "{name}"
description = "{description}"
system_prompt = "Answer in the {name} style."
examples = ["Write about the sea.", "Describe a clock.", "Tell of a storm."]
adapter = "{adapter}"
base_model = "tiny"
base_model_sha256 = ""
version = "0.1"
data_provenance = "random test adapter"
license = "MIT"
rank = 4

[defaults]
temperature = 1.0
max_tokens = {max_tokens}
ignore_eos = true
"""


@dataclass
class App:
    """The running app: base URL, the embedding sites' URLs and the server's engine counters."""

    url: str
    allowed_site: str
    refused_site: str

    def engine_stats(self) -> dict[str, Any]:
        """The engine counters of ``/health``."""
        import httpx

        return httpx.get(f"{self.url}/health", timeout=10).json()["engine"]


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: run scripts/system-deps.sh as root (apt-get install chromium)"
    if os.environ.get("INKWELL_REQUIRE_SYSTEM_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _site(root: Path, page: str) -> tuple[str, http.server.ThreadingHTTPServer]:
    """A static http.server on a free port serving ``page`` as index.html."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(page)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}", httpd


def _styles(root: Path, adapters: Path) -> Path:
    for i, (sid, (name, description)) in enumerate(STYLES.items()):
        (root / sid).mkdir(parents=True)
        (root / sid / "style.toml").write_text(
            STYLE_TOML.format(id=sid, name=name, description=description, adapter=adapters / f"a{i}",
                              max_tokens=MAX_TOKENS))
    return root


@pytest.fixture(scope="module")
def writer_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The full app on a free port, plus an allowed and a refused embedding site."""
    _chromium_or_skip()
    from app.main import create_app
    from app.settings import Settings

    tmp = tmp_path_factory.mktemp("browser")
    model = make_tiny_model_dir(tmp / "model", "llama", max_position_embeddings=4096)
    make_peft_adapters(model, [tmp / "adapters" / f"a{i}" for i in range(len(STYLES))], seed=7)
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    frame = f'<!doctype html><title>host</title><iframe id="writer" src="{url}/?embed=1&style=verse" ' \
            'width="900" height="700"></iframe>'
    allowed, allowed_httpd = _site(tmp / "allowed", frame)
    refused, refused_httpd = _site(tmp / "refused", frame)
    settings = Settings(host="127.0.0.1", port=sock.getsockname()[1], served_model_name="tiny",
                        database_url=f"sqlite:///{tmp / 'inkwell.db'}", embed_origins=[allowed],
                        styles_dir=_styles(tmp / "styles", tmp / "adapters"), adapter_roots=[tmp / "adapters"])
    app = create_app(settings, build_engine(model, max_model_len=2048))
    # The UI calls its own /v1, so the port is chosen before the app is built; ``live`` must use it.
    with mock.patch("tests.app.conftest.free_socket", return_value=sock), live(app):
        yield App(url, allowed, refused)
    for httpd in (allowed_httpd, refused_httpd):
        httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never ``playwright install``).

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is
    open, which would break every asyncio test collected after the browser tests.
    """
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh, logged-out browser context and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def shot(page: Any, name: str) -> Path:
    """Save a screenshot under artifacts/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


