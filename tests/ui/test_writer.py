"""Write-tab callbacks over a scripted SSE engine and a real SQLite store."""

from __future__ import annotations

import asyncio

import httpx

from app.client import TOO_LONG
from app.ui.draft import Draft
from app.ui.generation import FRAME_S, STOPPING, Progress, throttled
from app.ui.store import Viewer
from app.ui.writer import DONE, WRITING, browse, edit, new_piece, run_take, undo
from tests.ui.fakes import ScriptedEngine, chunk, make_services

CONTROLS = (1.2, 0.7, 0.9, 32)
WORDS = ["The", " sea", " sings", "."]
TEXT = "The sea sings."


async def take(services, viewer, draft, mode="generate", prompt="Write about the sea", text="", style="poetry",
               controls=CONTROLS):
    return [out async for out in run_take(services, mode, viewer, draft, prompt, text, style, *controls)]


def replies(store, viewer: Viewer, draft: Draft) -> list[tuple[str, str]]:
    messages = store.transcript(viewer.user_id, draft.session_id).messages
    return [(m.content, m.status) for m in messages if m.role == "assistant"]


async def test_generate_streams_growing_text_and_stores_it(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS, delay=FRAME_S * 1.2)  # slower than the screen refresh: every delta shows
    services = make_services(engine, store, count_tokens=len)  # one "token" a character, to tell them apart
    outs = await take(services, writer, Draft())
    texts = [o[0] for o in outs]
    assert texts[0] == "" and texts[-1] == TEXT
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:]))
    assert {"The sea", "The sea sings"} <= set(texts)  # the text grows on screen as deltas arrive
    assert all(o[3].startswith(WRITING) for o in outs[:-1])
    text, draft, label, status, words = outs[-1]
    assert text == TEXT and label.startswith("Take 1 of 1 · Poetry · strength 1.2 · ")
    assert status.startswith(DONE) and f"{len(WORDS)} tokens" in status
    assert words == "3 words · 14 tokens"  # the whole text's tokens (the status line has the generated ones)
    assert engine.bodies[0]["lora_scale"] == 1.2 and engine.bodies[0]["max_tokens"] == 32
    transcript = store.transcript(writer.user_id, draft.session_id)
    assert transcript.title == "Write about the sea"
    assert [(m.role, m.content, m.status) for m in transcript.messages] == [
        ("user", "Write about the sea", "complete"), ("assistant", TEXT, "complete")]


async def test_regenerate_adds_labelled_takes_and_continue_extends_in_place(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(WORDS), store)
    draft = (await take(services, writer, Draft()))[-1][1]
    draft = (await take(services, writer, draft, "regenerate", style="pirate"))[-1][1]
    assert [t.text for t in draft.takes] == [TEXT] * 2 and draft.label().startswith("Take 2 of 2 · Pirate")
    text, draft, label, _, _ = (await take(services, writer, draft, "continue", prompt="ignored", text=TEXT))[-1]
    assert text == TEXT + TEXT and len(draft.takes) == 2 and label.startswith("Take 2 of 2")
    assert browse(services, draft, -1)[0] == TEXT and browse(services, draft, -5)[2].startswith("Take 1 of 2 · Poetry")
    # the continuation is stored once, in place of the take it extended (not a second, doubled reply)
    assert replies(store, writer, draft) == [(TEXT, "complete"), (TEXT + TEXT, "complete")]
    messages = store.transcript(writer.user_id, draft.session_id).messages
    assert [m.content for m in messages if m.role == "user"] == ["Write about the sea"] * 2


async def test_continue_and_regenerate_start_from_the_writers_edit(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    services = make_services(engine, store)
    draft = (await take(services, writer, Draft()))[-1][1]
    edited = "My own opening."
    assert edit(services, writer, draft, edited) == (draft, "3 words")
    assert replies(store, writer, draft) == [(edited, "complete")]  # the edit is autosaved
    text = (await take(services, writer, draft, "continue", text=edited))[-1][0]
    assert text == edited + TEXT
    assert engine.bodies[-1]["messages"][-1] == {"role": "assistant", "content": edited}
    assert engine.bodies[-1]["continue_final_message"] is True


async def test_an_edit_while_the_take_still_streams_is_left_to_the_stream(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(WORDS), store)
    draft = (await take(services, writer, Draft()))[-1][1]
    store.continue_generation(writer.user_id, draft.take().message_id, TEXT)  # pending again, as mid-stream
    assert edit(services, writer, draft, "typed meanwhile") == (draft, "2 words")
    assert draft.take().text == TEXT and replies(store, writer, draft) == [(TEXT, "pending")]


async def test_undo_takes_back_a_continuation_then_a_take(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(WORDS), store)
    draft = (await take(services, writer, Draft()))[-1][1]
    draft = (await take(services, writer, draft, "regenerate"))[-1][1]
    draft = (await take(services, writer, draft, "continue", text=TEXT))[-1][1]
    text, draft, label, status, _ = undo(services, writer, draft)
    assert (text, status) == (TEXT, "Undone: the continuation is gone.") and label.startswith("Take 2 of 2")
    text, draft, label, status, _ = undo(services, writer, draft)
    assert (text, status) == (TEXT, "Undone: that take is gone.") and label.startswith("Take 1 of 1")
    assert replies(store, writer, draft) == [(TEXT, "complete")]
    messages = store.transcript(writer.user_id, draft.session_id).messages
    assert [m.role for m in messages] == ["user", "assistant"]


async def test_new_prompt_without_new_piece_starts_a_new_session(store, writer: Viewer) -> None:
    services = make_services(ScriptedEngine(WORDS), store)
    first = (await take(services, writer, Draft()))[-1][1]
    second = (await take(services, writer, first, prompt="A letter to my landlord"))[-1][1]
    assert second.session_id != first.session_id and len(second.takes) == 1
    titles = sorted(r.title for r in store.list_sessions(writer.user_id))
    assert titles == ["A letter to my landlord", "Write about the sea"]
    assert new_piece()[:2] == ("", "") and new_piece()[2].session_id is None


async def test_length_limit_is_not_called_done(store, writer: Viewer) -> None:
    async def at_limit(_: httpx.Request) -> httpx.Response:
        usage = {"prompt_tokens": 5, "completion_tokens": 24, "total_tokens": 29}  # more tokens than deltas
        body = chunk("The sea") + chunk(finish="length") + chunk(usage=usage) + b"data: [DONE]\n\n"
        return httpx.Response(200, content=body)

    services = make_services(httpx.MockTransport(at_limit), store)
    _, _, _, status, words = (await take(services, writer, Draft()))[-1]
    assert status.startswith("Stopped at the length limit (24 tokens") and "Continue" in status
    assert DONE not in status and words == "2 words · 24 tokens generated"  # no tokenizer here: the generated ones


async def test_stop_closes_the_stream_and_stores_partial_text(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS * 50, delay=0.01)
    services = make_services(engine, store)
    draft = Draft()
    stream = run_take(services, "generate", writer, draft, "Go on", "", "pirate", *CONTROLS)
    seen = [await anext(stream) for _ in range(4)]
    await stream.aclose()  # what Gradio does when Stop cancels the event
    assert engine.open_streams == 0 and engine.closed_early == 1
    (content, status), = replies(store, writer, seen[-1][1])
    assert status == "aborted" and content.startswith(seen[-1][0]) and seen[-1][0]
    assert len(content) < len("".join(WORDS * 50))


async def test_server_stopping_stores_the_reply_aborted_and_says_so(store, writer: Viewer) -> None:
    async def cut(_: httpx.Request) -> httpx.Response:
        services.stopping.set()  # SIGTERM arrives while the engine ends the stream with an error frame
        body = chunk("The sea") + b'data: {"error": {"message": "engine shut down"}}\n\ndata: [DONE]\n\n'
        return httpx.Response(200, content=body)

    services = make_services(httpx.MockTransport(cut), store)
    text, draft, _, status, _ = (await take(services, writer, Draft()))[-1]
    assert status == "⚠️ " + STOPPING and text == "The sea"
    assert replies(store, writer, draft) == [("The sea", "aborted")]


async def test_throttled_keeps_up_to_twenty_frames_a_second_and_the_last_text() -> None:
    async def fast(n: int):
        for i in range(1, n + 1):
            await asyncio.sleep(0.001)
            yield Progress("x" * i, 1, i)

    frames = [p.text async for p in throttled(fast(300))]
    assert frames[0] == "x" and frames[-1] == "x" * 300 and len(frames) < 300 / 2
    assert frames == sorted(frames, key=len)


async def test_engine_error_is_shown_in_words_and_leaves_no_session(store, writer: Viewer) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(
        400, json={"error": {"message": "prompt (4476 tokens) + max_tokens (150) = 4626 exceeds max_model_len 2048"}}))
    services = make_services(transport, store)
    text, draft, label, status, _ = (await take(services, writer, Draft()))[-1]
    assert status == "⚠️ " + TOO_LONG.format(limit=" (2048 tokens)") and "4476" not in status
    assert label == "No text yet." and draft.session_id is None
    assert store.list_sessions(writer.user_id) == []  # the failed attempt is not left in History


async def test_failed_regenerate_keeps_the_text_on_screen(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    services = make_services(engine, store)
    draft = (await take(services, writer, Draft()))[-1][1]
    services = make_services(httpx.MockTransport(lambda _: httpx.Response(503, json={"error": {"message": "full"}})),
                             store)
    text, draft, label, status, _ = (await take(services, writer, draft, "regenerate"))[-1]
    assert text == TEXT and label.startswith("Take 1 of 1") and status.startswith("⚠️ The writing engine is busy")
    assert replies(store, writer, draft) == [(TEXT, "complete")]


async def test_refusals_before_any_request_leave_the_screen_alone(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    services = make_services(engine, store)
    cases = [
        (None, "generate", "Hi", "", "poetry", CONTROLS, "Log in or continue as a guest first."),
        (writer, "generate", "  ", "", "poetry", CONTROLS, "Write a prompt first."),
        (writer, "generate", "Hi", "", "nope", CONTROLS, "Unknown style 'nope'"),
        (writer, "generate", "Hi", "", "poetry", (3.0, 0.7, 0.9, 32), "The style strength must be between 0 and 2."),
        (writer, "continue", "Hi", " ", "poetry", CONTROLS, "There is no text to continue yet"),
    ]
    for viewer, mode, prompt, text, style, controls, message in cases:
        outs = [o async for o in run_take(services, mode, viewer, Draft(), prompt, text, style, *controls)]
        assert len(outs) == 1 and outs[0][3].startswith("⚠️ " + message)
        assert outs[0][0] == {"__type__": "update"}  # the text on screen is never blanked
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
    assert (await first)[-1][0] == TEXT and (await second)[-1][0] == "ArrArrArrArr"


async def test_a_blend_is_sent_as_styles_and_stored_with_the_take(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    services = make_services(engine, store)
    blend = ("pirate", 0.3, "", 0.5)  # the control's (style, weight) pairs; the second is not picked
    text, draft, _, status, _ = (await take(services, writer, Draft(), controls=(*CONTROLS, *blend)))[-1]
    assert text == TEXT and status.startswith(DONE)
    body = engine.bodies[0]
    assert body["styles"] == [{"name": "poetry", "weight": 1.2}, {"name": "pirate", "weight": 0.3}]
    assert "lora_scale" not in body  # the weights replace the strength
    reply = [m for m in store.transcript(writer.user_id, draft.session_id).messages if m.role == "assistant"][0]
    assert reply.params["blend"] == "poetry 1.2 + pirate 0.3" and reply.params["max_tokens"] == 32


async def test_a_blend_with_the_main_style_itself_is_refused_in_words(store, writer: Viewer) -> None:
    engine = ScriptedEngine(WORDS)
    outs = await take(make_services(engine, store), writer, Draft(), controls=(*CONTROLS, "poetry", 0.5, "", 0.5))
    assert "pick styles that differ" in outs[-1][3] and engine.bodies == []
