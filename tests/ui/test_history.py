"""History callbacks and exports against the real store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from app.ui import history
from app.ui.export import to_markdown, to_text
from app.ui.store import GenerationRecord
from tests.ui.fakes import ScriptedEngine, make_services


def seed_session(store, writer, title: str = "Sea poem") -> int:
    sid = store.new_session(writer.user_id, title, "poetry")
    for text, status in (("The sea.", "complete"), ("The sea sings", "aborted")):
        mid = store.start_generation(writer.user_id, sid, "Write about the sea", "poetry", 1.0, {})
        store.finish_generation(mid, GenerationRecord(text, status))
    return sid


def test_open_rename_delete(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer)
    assert history.session_choices(services, writer)[0][1] == sid
    transcript, draft, prompt, text, label, status = history.open_session(services, writer, sid)
    assert (draft.session_id, prompt, text, label) == (sid, "Write about the sea", "The sea sings",
                                                      "Alternative 2 of 2")
    assert "# Sea poem" in transcript and status.startswith("Opened")
    picker, status = history.rename(services, writer, sid, "  Ode  ")
    assert status == "Renamed to “Ode”." and picker["choices"][0][0].startswith("Ode ·")
    intruder = store.sign_up("mallory", "another password")
    assert history.delete(services, intruder, sid)[2] == "⚠️ That session no longer exists."
    assert history.delete(services, writer, sid)[2] == "Session deleted."
    assert history.session_choices(services, writer) == []
    assert history.open_session(services, writer, None)[-1] == "⚠️ Pick a session first."
    assert history.rename(services, None, sid, "x")[1].startswith("⚠️ Log in")


def test_exports(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer, "Sea / poem")
    path, status = history.export(services, writer, sid, "markdown")
    markdown = Path(path).read_text()
    assert Path(path).name == "Sea-poem.md" and status == "Exported “Sea / poem” as markdown."
    assert markdown == to_markdown(store.transcript(writer.user_id, sid))
    assert markdown.splitlines()[:5] == ["# Sea / poem", "", "## Prompt", "", "> Write about the sea"]
    assert "## poetry, aborted\n\nThe sea sings" in markdown
    text_path, _ = history.export(services, writer, sid, "text")
    text = Path(text_path).read_text()
    assert text == to_text(store.transcript(writer.user_id, sid))
    assert text.startswith("Sea / poem\n==========\n\nPROMPT\nWrite about the sea\n") and "#" not in text


def test_share_and_revoke(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer)
    request = SimpleNamespace(headers={"host": "127.0.0.1:7860"})
    link, status = history.share(services, writer, sid, request)
    token = link.rsplit("/", 1)[1]
    assert link == f"http://127.0.0.1:7860/share/{token}" and "read" in status
    assert store.shared(token).title == "Sea poem"
    assert history.revoke(services, writer, sid) == ("", "The share link no longer works.")
    assert store.shared(token) is None
    assert history.revoke(services, writer, sid)[1] == "⚠️ That session has no share link to revoke."
