"""Compare: several styles stream concurrently (all in flight at once) and are stored."""

from __future__ import annotations

import asyncio

from app.ui.compare import compare
from tests.ui.fakes import ScriptedEngine, make_services

STYLE_WORDS = {"poetry": ["O", " sea"], "pirate": ["Arr", " matey"], "legal": ["Whereas", " hereby"]}


async def test_three_styles_stream_at_once(store, writer) -> None:
    engine = ScriptedEngine(STYLE_WORDS)
    engine.gate = asyncio.Event()  # no stream may finish before all three have started
    services = make_services(engine, store)
    outs: list[tuple[str, ...]] = []

    async def run() -> None:
        async for out in compare(services, writer, "Describe the sea", list(STYLE_WORDS), 1.0, 0.8, 0.9, 16):
            outs.append(out)

    task = asyncio.create_task(run())
    await asyncio.wait_for(asyncio.gather(*(engine.started.setdefault(s, asyncio.Event()).wait()
                                            for s in STYLE_WORDS)), 5)
    assert {t for out in outs for t in out[:3]} >= {"O", "Arr", "Whereas"}  # first words shown mid-stream
    engine.gate.set()
    await asyncio.wait_for(task, 5)
    assert outs[-1] == ("O sea", "Arr matey", "Whereas hereby", "", "Done.")
    assert sorted(b["model"] for b in engine.bodies) == sorted(STYLE_WORDS)
    (session,) = store.list_sessions(writer.user_id)
    replies = [m for m in store.transcript(writer.user_id, session.id).messages if m.role == "assistant"]
    assert session.title == "Compare: Describe the sea"
    assert sorted((m.style, m.content) for m in replies) == sorted(
        (s, "".join(w)) for s, w in STYLE_WORDS.items())


async def test_closing_compare_closes_every_stream(store, writer) -> None:
    engine = ScriptedEngine({s: w * 100 for s, w in STYLE_WORDS.items()}, delay=0.01)
    services = make_services(engine, store)
    stream = compare(services, writer, "Go", ["poetry", "pirate"], 1.0, 0.8, 0.9, 16)
    for _ in range(6):
        await anext(stream)
    await stream.aclose()
    assert engine.open_streams == 0 and engine.closed_early == 2
    (session,) = store.list_sessions(writer.user_id)
    statuses = {m.status for m in store.transcript(writer.user_id, session.id).messages if m.role == "assistant"}
    assert statuses == {"aborted"}


async def test_style_count_is_checked(store, writer) -> None:
    services = make_services(ScriptedEngine(STYLE_WORDS), store)
    for styles in ([], ["poetry", "pirate", "legal", "poetry", "pirate"]):
        outs = [o async for o in compare(services, writer, "Go", styles, 1.0, 0.8, 0.9, 16)]
        assert len(outs) == 1 and outs[0][-1].startswith("⚠️ Pick between 1 and 4 styles")
