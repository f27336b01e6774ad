"""Write-tab callbacks over a scripted SSE engine and a real SQLite store."""

from __future__ import annotations

import asyncio

import httpx

from app.ui.draft import Draft
from app.ui.store import Viewer
from app.ui.generation import FRAME_S, throttled
from app.ui.writer import DONE, browse, run_take
from tests.ui.fakes import ScriptedEngine, make_services

CONTROLS = (1.2, 0.7, 0.9, 32)
WORDS = ["The", " sea", " sings", "."]


async def take(services, viewer, draft, mode="generate", prompt="Write about the sea", style="poetry"):
    return [out async for out in run_take(services, mode, viewer, draft, prompt, style, *CONTROLS)]


async def test_generate_streams_growing_text_and_stores_it(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS, delay=FRAME_S * 1.2)  # slower than the screen refresh: every delta shows
    services = make_services(engine, store)
    outs = await take(services, writer, Draft())
    texts = [o[0] for o in outs]
    assert texts[1:-1] == ["The", "The sea", "The sea sings", "The sea sings."]
    text, draft, label, status = outs[-1]
    assert (text, label, status) == ("The sea sings.", "Alternative 1 of 1", DONE)
    assert engine.bodies[0]["lora_scale"] == 1.2 and engine.bodies[0]["max_tokens"] == 32
    transcript = store.transcript(writer.user_id, draft.session_id)
    assert transcript.title == "Write about the sea"
    assert [(m.role, m.content, m.status) for m in transcript.messages] == [
        ("user", "Write about the sea", "complete"), ("assistant", "The sea sings.", "complete")]


async def test_regenerate_keeps_alternatives_and_continue_extends(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(WORDS), store)
    draft = (await take(services, writer, Draft()))[-1][1]
    draft = (await take(services, writer, draft, "regenerate"))[-1][1]
    assert draft.alternatives == ["The sea sings."] * 2 and draft.label() == "Alternative 2 of 2"
    text, draft, _, _ = (await take(services, writer, draft, "continue", prompt="ignored"))[-1]
    assert text == "The sea sings.The sea sings." and draft.alternatives[1] == text
    assert browse(draft, -1)[0] == "The sea sings." and browse(draft, -5)[2] == "Alternative 1 of 2"
    messages = store.transcript(writer.user_id, draft.session_id).messages
    assert [m.content for m in messages if m.role == "user"] == ["Write about the sea"] * 3


async def test_stop_closes_the_stream_and_stores_partial_text(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS * 50, delay=0.01)
    services = make_services(engine, store)
    draft = Draft()
    stream = run_take(services, "generate", writer, draft, "Go on", "pirate", *CONTROLS)
    seen = [await anext(stream) for _ in range(4)]
    await stream.aclose()  # what Gradio does when Stop cancels the event
    assert engine.open_streams == 0 and engine.closed_early == 1
    reply = store.transcript(writer.user_id, draft.session_id).messages[-1]
    assert reply.status == "aborted" and reply.content.startswith(seen[-1][0]) and seen[-1][0]
    assert len(reply.content) < len("".join(WORDS * 50))


async def test_throttled_keeps_up_to_twenty_frames_a_second_and_the_last_text() -> None:
    async def fast(n: int):
        for i in range(1, n + 1):
            await asyncio.sleep(0.001)
            yield "x" * i

    frames = [t async for t in throttled(fast(300))]
    assert frames[0] == "x" and frames[-1] == "x" * 300 and len(frames) < 300 / 2
    assert frames == sorted(frames, key=len)


async def test_engine_error_is_shown_in_words_and_stored(store, writer: Viewer) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(
        400, json={"error": {"message": "prompt is too long: 9000 tokens, at most 2048"}}))
    services = make_services(transport, store)
    text, draft, label, status = (await take(services, writer, Draft()))[-1]
    assert status == "⚠️ prompt is too long: 9000 tokens, at most 2048"
    assert (text, label) == ("", "No text yet.")
    assert store.transcript(writer.user_id, draft.session_id).messages[-1].status == "error"


async def test_refusals_before_any_request(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    services = make_services(engine, store)
    cases = [
        (None, "generate", "Hi", "poetry", CONTROLS, "Log in or continue as a guest first."),
        (writer, "generate", "  ", "poetry", CONTROLS, "Write a prompt first."),
        (writer, "generate", "Hi", "nope", CONTROLS, "Unknown style 'nope'"),
        (writer, "generate", "Hi", "poetry", (3.0, 0.7, 0.9, 32), "The style strength must be between 0 and 2."),
        (writer, "regenerate", "Hi", "poetry", CONTROLS, "Generate something first."),
    ]
    for viewer, mode, prompt, style, controls, message in cases:
        outs = [o async for o in run_take(services, mode, viewer, Draft(), prompt, style, *controls)]
        assert len(outs) == 1 and outs[0][3].startswith("⚠️ " + message)
    assert engine.bodies == [] and store.list_sessions(writer.user_id) == []


async def test_two_writers_stream_at_once(store, writer: Viewer) -> None:
    engine = ScriptedEngine({"poetry": WORDS, "pirate": ["Arr"] * 4})
    engine.gate = asyncio.Event()
    services = make_services(engine, store)
    other = store.guest()
    first = asyncio.create_task(take(services, writer, Draft(), style="poetry"))
    second = asyncio.create_task(take(services, other, Draft(), style="pirate"))
    await asyncio.wait_for(asyncio.gather(engine.started.setdefault("poetry", asyncio.Event()).wait(),
                                          engine.started.setdefault("pirate", asyncio.Event()).wait()), 5)
    engine.gate.set()
    assert (await first)[-1][0] == "The sea sings." and (await second)[-1][0] == "ArrArrArrArr"
