"""Only streaming events use Gradio's queue (see ``build_blocks``): a quick event finishing on the queue
as a click joins it closes the page's event stream under the click, which is then lost."""

from __future__ import annotations

import inspect
from typing import Any

from app.ui.layout import build_blocks
from tests.ui.fakes import ScriptedEngine, make_services


def _unwrapped(fn: Any) -> Any:
    return getattr(fn, "func", fn)  # functools.partial


def _streams(fn: Any) -> bool:
    return inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)


def test_only_the_streaming_events_are_queued(store) -> None:
    blocks = build_blocks(make_services(ScriptedEngine(["x"]), store))
    queued = {_unwrapped(fn.fn).__name__: _streams(_unwrapped(fn.fn)) for fn in blocks.fns.values() if fn.queue}
    assert queued and all(queued.values()), f"quick events on the queue: {sorted(k for k, v in queued.items() if not v)}"
    assert {"run_take", "compare", "embed_take"} <= set(queued)
