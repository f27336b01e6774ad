"""Stopping the server gracefully: on SIGTERM, open streams end at once, their replies stored as aborted.

``Stopping`` is the app's one stop flag. ``begin`` (called from the signal handler, before uvicorn waits
for connections) sets it and runs the hooks: the engine shuts down in a thread, which ends every open
SSE stream with an error frame and ``[DONE]``; the writer's app, seeing the flag, stores what each
reply had as ``aborted``. ``StoppingServer`` is uvicorn's server with that first step added.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

GRACE_S = 3  # after the streams ended: how long uvicorn waits for idle connections (browser tabs)


class Stopping:
    """A flag set once when the server begins to stop, with hooks to run at that moment."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._hooks: list[Callable[[], None]] = []

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the server begins to stop (it must return quickly)."""
        self._hooks.append(hook)

    def begin(self) -> None:
        """Set the flag and run the hooks (only the first call does anything)."""
        if self.event.is_set():
            return
        self.event.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # one failing hook must not keep the server from stopping
                log.exception("a stop hook failed")


def shut_down_in_background(engine: Any) -> Callable[[], None]:
    """A stop hook that shuts ``engine`` down on a thread (it joins the step loop)."""
    return lambda: threading.Thread(target=engine.shutdown, name="inkwell-stop", daemon=True).start()


class StoppingServer(uvicorn.Server):
    """uvicorn's server that calls ``stopping.begin()`` on the first exit signal."""

    def __init__(self, config: uvicorn.Config, stopping: Stopping) -> None:
        super().__init__(config)
        self._stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        log.info("stopping: ending open streams")
        self._stopping.begin()
        super().handle_exit(sig, frame)
