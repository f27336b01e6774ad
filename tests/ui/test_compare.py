"""Compare: several styles stream concurrently (all in flight at once), each on its own defaults, stored in
one session per prompt."""

from __future__ import annotations

import asyncio

from app.ui.compare import MAX_COMPARE, TOO_MANY, compare, limit_styles, settings_label
from tests.ui.fakes import ScriptedEngine, make_services

STYLE_WORDS = {"poetry": ["O", " sea"], "pirate": ["Arr", " matey"], "legal": ["Whereas", " hereby"]}


async def run_compare(services, writer, prompt, styles, run=None) -> list[tuple]:
    return [out async for out in compare(services, writer, run, prompt, styles)]


async def test_three_styles_stream_at_once_on_their_own_defaults(store, writer) -> None:
    engine = ScriptedEngine(STYLE_WORDS)
    engine.gate = asyncio.Event()  # no stream may finish before all three have started
    services = make_services(engine, store)
    outs: list[tuple] = []

    async def run() -> None:
        async for out in compare(services, writer, None, "Describe the sea", list(STYLE_WORDS)):
            outs.append(out)

    task = asyncio.create_task(run())
    await asyncio.wait_for(asyncio.gather(*(engine.started.setdefault(s, asyncio.Event()).wait()
                                            for s in STYLE_WORDS)), 5)
    assert outs and all(out[MAX_COMPARE] == "Writing…" for out in outs)  # all three in flight, none done
    engine.gate.set()
    await asyncio.wait_for(task, 5)
    assert outs[-1][:MAX_COMPARE + 1] == ("O sea", "Arr matey", "Whereas hereby", "", "Done.")
    bodies = {b["model"]: b for b in engine.bodies}
    assert sorted(bodies) == sorted(STYLE_WORDS)
    assert (bodies["poetry"]["temperature"], bodies["poetry"]["max_tokens"]) == (0.9, 64)  # poetry's defaults
    assert (bodies["pirate"]["top_p"], bodies["pirate"]["temperature"]) == (0.8, 0.8)  # pirate's, base for the rest
    assert {m: b["lora_scale"] for m, b in bodies.items()} == {"poetry": 1.25, "pirate": 1.0, "legal": 1.0}
    (session,) = store.list_sessions(writer.user_id)
    replies = [m for m in store.transcript(writer.user_id, session.id).messages if m.role == "assistant"]
    assert session.title == "Compare: Describe the sea"
    assert sorted((m.style, m.content) for m in replies) == sorted((s, "".join(w)) for s, w in STYLE_WORDS.items())


async def test_comparing_the_same_prompt_again_reuses_its_session(store, writer) -> None:
    services = make_services(ScriptedEngine(STYLE_WORDS), store)
    first = (await run_compare(services, writer, "Describe the sea", ["poetry"]))[-1][-1]
    again = (await run_compare(services, writer, " Describe the sea ", ["pirate"], run=first))[-1][-1]
    other = (await run_compare(services, writer, "A storm", ["legal"], run=again))[-1][-1]
    assert again.session_id == first.session_id and other.session_id != first.session_id
    assert sorted(s.title for s in store.list_sessions(writer.user_id)) == ["Compare: A storm",
                                                                            "Compare: Describe the sea"]
    styles = [m.style for m in store.transcript(writer.user_id, first.session_id).messages if m.role == "assistant"]
    assert styles == ["poetry", "pirate"]


async def test_closing_compare_closes_every_stream(store, writer) -> None:
    engine = ScriptedEngine({s: w * 100 for s, w in STYLE_WORDS.items()}, delay=0.01)
    services = make_services(engine, store)
    stream = compare(services, writer, None, "Go", ["poetry", "pirate"])
    for _ in range(6):
        await anext(stream)
    await stream.aclose()
    assert engine.open_streams == 0 and engine.closed_early == 2
    (session,) = store.list_sessions(writer.user_id)
    statuses = {m.status for m in store.transcript(writer.user_id, session.id).messages if m.role == "assistant"}
    assert statuses == {"aborted"}


async def test_style_count_is_checked_before_anything_runs(store, writer) -> None:
    engine = ScriptedEngine(STYLE_WORDS)
    services = make_services(engine, store)
    for styles, message in (([], "Tick at least one style"), (["poetry", "pirate", "legal", "poetry", "pirate"],
                                                               TOO_MANY)):
        outs = await run_compare(services, writer, "Go", styles)
        assert len(outs) == 1 and outs[0][MAX_COMPARE].startswith("⚠️ " + message)
    assert engine.bodies == [] and store.list_sessions(writer.user_id) == []


def test_a_fifth_tick_is_undone_at_once() -> None:
    four = ["a", "b", "c", "d"]
    assert limit_styles(four, ["a", "b", "c"]) == (four, four, "")
    assert limit_styles([*four, "e"], four) == (four, four, TOO_MANY)
    assert limit_styles(None, None) == ([], [], "")


def test_each_pane_names_its_style_and_settings(store) -> None:
    services = make_services(ScriptedEngine(STYLE_WORDS), store)
    assert settings_label(services.gallery, "poetry") == "Poetry · strength 1.25 · temperature 0.9 · top-p 0.95 · up to 64 tokens"
