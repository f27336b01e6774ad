"""Screenshots of the writer's app's main views for the README: ``docs/screenshots/<view>-<size>-<theme>.png``.

Starts ``inkwell serve`` (``python -m cli.main serve``) on a fresh database with the packaged styles and
the real embedded model (realistic text), then drives Debian's Chromium through Playwright: sign-in,
Write after a generation, the style gallery, Compare, History with a session opened, and the embed
page, each at 1280x900 (desktop) and 390x844 (phone), light and dark.

    python scripts/screenshots.py [--model smollm2-135m] [--out docs/screenshots] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
FINISHED = re.compile(r"Done\.|length limit|Stopped\.|⚠️")
PROMPT = "Write a poem about the sea at night."
SET_DARK = """on => { document.body.classList.toggle('dark', on);
  localStorage.setItem('inkwell-dark', on ? '1' : '0'); }"""


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, threads: int, data: Path) -> tuple[subprocess.Popen, str]:
    """``inkwell serve`` on a free port and a fresh database; returns the process and its URL."""
    port = free_port()
    argv = [sys.executable, "-m", "cli.main", "serve", "--model", model, "--device", "cpu", "--threads", str(threads),
            "--database-url", f"sqlite:///{data / 'inkwell.db'}", "--port", str(port)]
    log = (data / "serve.log").open("w")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"inkwell serve exited:\n{(data / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("inkwell serve did not start in 300 s")


def wait_for(done: Callable[[], bool], timeout: float = 300) -> None:
    """Poll ``done`` until it is true."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("the page did not reach the expected state in time")
        time.sleep(0.2)


def finished(page: Any, elem_id: str) -> bool:
    """True when a status line says its stream ended."""
    line = page.locator(f"#{elem_id}").inner_text()
    return bool(FINISHED.search(line)) and "Writing" not in line


def pick(page: Any, elem_id: str, option: str) -> None:
    """Choose ``option`` in a Gradio dropdown."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.click()


def capture(page: Any, out: Path, view: str, top: str | None = None) -> list[Path]:
    """Screenshot the page at both sizes in both themes (scrolled to ``top`` when given)."""
    paths = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for theme in ("light", "dark"):
            page.evaluate(SET_DARK, theme == "dark")
            if top:
                page.locator(top).first.scroll_into_view_if_needed()
            page.wait_for_timeout(400)
            path = out / f"{view}-{size}-{theme}.png"
            page.screenshot(path=str(path))
            paths.append(path)
    page.set_viewport_size({"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})
    page.evaluate("() => window.scrollTo(0, 0)")
    return paths


def tour(page: Any, url: str, out: Path) -> list[Path]:
    """Walk through the main views, capturing each."""
    page.goto(url, wait_until="load")
    page.locator("#signin").wait_for()
    shots = capture(page, out, "signin")
    page.locator("#username textarea").fill("ada")
    page.locator("#password input").fill("a long enough password")
    page.locator("#sign-up").click()
    page.locator("#who").get_by_text("ada").wait_for()
    pick(page, "style", "Poetry")
    page.locator("#prompt textarea").fill(PROMPT)
    page.locator("#generate").click()
    wait_for(lambda: finished(page, "status"))
    shots += capture(page, out, "write")
    page.locator("#gallery").get_by_text("Style gallery").click()
    shots += capture(page, out, "gallery", top="#gallery")
    page.locator("#gallery").get_by_text("Style gallery").click()
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill("Describe a storm at sea in two sentences.")
    page.locator("#compare").click()
    wait_for(lambda: finished(page, "compare-status"))
    shots += capture(page, out, "compare")
    page.get_by_role("tab", name="History").click()
    pick(page, "session-picker", PROMPT)
    page.locator("#history-open").click()
    page.locator("#history-status").get_by_text("Opened").wait_for()
    shots += capture(page, out, "history")
    page.goto(f"{url}/?embed=1&style=pirate", wait_until="load")
    page.locator("#embed-prompt textarea").fill("Tell me about your ship.")
    page.locator("#embed-generate").click()
    wait_for(lambda: finished(page, "embed-status"))
    return shots + capture(page, out, "embed")


def main(argv: list[str] | None = None) -> int:
    """Run the tour and print the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="model to serve (default: the embedded one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the engine")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="inkwell-shots-") as data:
        proc, url = start_server(args.model, args.threads, Path(data))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(120_000)
                shots = tour(page, url, args.out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    for path in shots:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
