"""Browser-test fixtures: the whole app (API + UI) on a tiny random model, and Debian's Chromium.

The server is ``app.main.create_app`` with the real engine on the tiny Llama and three styles, each on
its own random adapter, that never stop early (``ignore_eos``) so streaming lasts long enough to see.
Chromium comes from apt (``scripts/system-deps.sh``); without it these tests skip, unless
``INKWELL_REQUIRE_SYSTEM_TESTS=1`` (CI), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import socket
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import build_engine, free_socket, live, make_peft_adapters
from tests.conftest import make_tiny_model_dir

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
MAX_TOKENS = 500  # byte-level tiny tokenizer: up to 500 characters, ~5-10 ms a token: a few seconds
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
STYLES = {"verse": ("Verse", "Short lines that sing."), "pirate": ("Pirate", "Arr, says the sea dog."),
          "legal": ("Legal", "Whereas the party of the first part.")}
STRENGTHS = {"pirate": 1.5}  # a default strength other than 1 (``lora_scale`` in [defaults]); the rest run at 1
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
lora_scale = {strength}
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


def _styles(root: Path, adapters: Path, styles: dict[str, tuple[str, str]], max_tokens: dict[str, int]) -> Path:
    for i, (sid, (name, description)) in enumerate(styles.items()):
        (root / sid).mkdir(parents=True)
        (root / sid / "style.toml").write_text(
            STYLE_TOML.format(id=sid, name=name, description=description, adapter=adapters / f"a{i}",
                              max_tokens=max_tokens.get(sid, MAX_TOKENS), strength=STRENGTHS.get(sid, 1.0)))
    return root


class WriterServer:
    """The full app on one port and database, which can be stopped and started again (a restart)."""

    def __init__(self, tmp: Path, styles: dict[str, tuple[str, str]] = STYLES,
                 max_tokens: dict[str, int] | None = None) -> None:
        self.tmp = tmp
        self.model = make_tiny_model_dir(tmp / "model", "llama", max_position_embeddings=4096)
        make_peft_adapters(self.model, [tmp / "adapters" / f"a{i}" for i in range(len(styles))], seed=7)
        self.styles_dir = _styles(tmp / "styles", tmp / "adapters", styles, max_tokens or {})
        probe = free_socket()
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: Any = None

    def start(self, embed_origins: list[str] = (), **more: Any) -> Any:
        """Build the app and serve it (``more``: further settings); returns the live server."""
        from app.main import create_app
        from app.settings import Settings

        settings = Settings(host="127.0.0.1", port=self.port, served_model_name="tiny",
                            database_url=f"sqlite:///{self.tmp / 'inkwell.db'}", embed_origins=list(embed_origins),
                            styles_dir=self.styles_dir, adapter_roots=[self.tmp / "adapters"], **more)
        app = create_app(settings, build_engine(self.model, max_model_len=2048))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        # The UI calls its own /v1, so the port is chosen before the app is built; ``live`` must use it.
        self._context = live(app, sock)
        self._running = self._context.__enter__()
        return self._running

    def stop(self) -> None:
        """Stop the server (the database and the files stay)."""
        if self._running is not None:
            self._context.__exit__(None, None, None)
            self._running = None


@pytest.fixture(scope="module")
def writer_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The full app on a free port, plus an allowed and a refused embedding site."""
    _chromium_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    server = WriterServer(tmp)
    frame = f'<!doctype html><title>host</title><iframe id="writer" src="{server.url}/?embed=1&style=verse" ' \
            'width="900" height="700"></iframe>'
    allowed, allowed_httpd = _site(tmp / "allowed", frame)
    refused, refused_httpd = _site(tmp / "refused", frame)
    server.start(embed_origins=[allowed])
    try:
        yield App(server.url, allowed, refused)
    finally:
        server.stop()
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    """Keep each phase's report on the test item, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture()
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, logged-out browser context and page. When the test fails, the page's console messages
    and errors go to the test's log and a screenshot to artifacts/screenshots/failed-<test>.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    page.on("requestfailed", lambda req: seen.append(f"request failed: {req.method} {req.url} {req.failure}"))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        log.warning("the page saw, in order:\n%s", "\n".join(seen) or "(nothing)")
        log.warning("the server's threads (in this process) at the failure:\n%s", _thread_stacks())
        shot(page, f"failed-{request.node.name}")
    context.close()


def _thread_stacks() -> str:
    """Every thread's stack, innermost last: shows whether the server was busy, blocked or idle."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return "\n".join(f"-- {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame)[-6:])
                     for ident, frame in sys._current_frames().items())


def shot(page: Any, name: str) -> Path:
    """Save a screenshot under artifacts/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


