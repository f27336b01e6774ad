"""History callbacks and exports against the real store."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from docx import Document

from app.ui import history
from app.ui.export import hard_breaks, to_markdown
from app.ui.store import MessageRow, Transcript
from app.ui.store import GenerationRecord
from tests.ui.fakes import ScriptedEngine, make_services


def seed_session(store, writer, title: str = "Sea poem") -> int:
    sid = store.new_session(writer.user_id, title, "poetry")
    takes = (("The sea.", "complete", "poetry", 1.0), ("The sea sings", "aborted", "pirate", 1.5))
    for text, status, style, strength in takes:
        mid = store.start_generation(writer.user_id, sid, "Write about the sea", style, strength,
                                     {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64})
        store.finish_generation(mid, GenerationRecord(text, status))
    return sid


def test_open_restores_every_take_with_its_style(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer)
    assert history.session_choices(services, writer)[0][1] == sid
    transcript, draft, prompt, text, label, style, words, status = history.open_session(services, writer, sid)
    assert (draft.session_id, prompt, text, style, words) == (sid, "Write about the sea", "The sea sings",
                                                              "pirate", "3 words")
    assert draft.style == "pirate" and [t.style for t in draft.takes] == ["poetry", "pirate"]
    assert label.startswith("Take 2 of 2 · Pirate · strength 1.5 · ")
    assert "# Sea poem" in transcript and status == "Opened “Sea poem”: it is in the Write tab too."


def test_a_new_prompt_in_a_session_starts_its_takes_afresh(store, writer) -> None:
    sid = seed_session(store, writer)
    mid = store.start_generation(writer.user_id, sid, "Now a storm", "legal", 1.0, {})
    store.finish_generation(mid, GenerationRecord("Whereas thunder", "complete"))
    draft = history.draft_from(store.transcript(writer.user_id, sid), sid, make_services(ScriptedEngine([]),
                                                                                         store).gallery)
    assert (draft.prompt, [t.text for t in draft.takes], draft.style) == ("Now a storm", ["Whereas thunder"], "legal")


def test_rename_and_delete_after_a_question(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer)
    picker, status = history.rename(services, writer, sid, "  Ode  ")
    assert status == "Renamed to “Ode”." and picker["choices"][0][0].startswith("Ode ·")
    confirm, question = history.ask_delete(services, writer, sid)
    assert confirm["visible"] is True and question.startswith("Delete “Ode” with all its texts?")
    assert history.session_choices(services, writer)[0][1] == sid  # asking deletes nothing
    intruder = store.sign_up("mallory", "another password")
    assert history.ask_delete(services, intruder, sid)[1] == "⚠️ That session no longer exists."
    assert history.delete(services, intruder, sid)[2] == "⚠️ That session no longer exists."
    picker, transcript, status, confirm = history.delete(services, writer, sid)
    assert (status, transcript, confirm["visible"]) == ("Session deleted.", "", False)
    assert history.session_choices(services, writer) == [] and picker["choices"] == []
    assert history.open_session(services, writer, None)[-1] == "⚠️ Pick a session first."
    assert history.rename(services, None, sid, "x")[1].startswith("⚠️ Log in")


def test_picking_another_session_clears_the_last_ones_link_and_question() -> None:
    link, exported, confirm, status = history.picked(7)
    assert (link, exported["value"], exported["visible"], confirm["visible"], status) == ("", None, False, False, "")


def test_a_picker_emptied_by_a_deletion_keeps_the_status_that_says_so() -> None:
    link, exported, confirm, status = history.picked(None)
    assert (link, exported["visible"], confirm["visible"]) == ("", False, False) and status == gr.update()


DATE_LINE = re.compile(r"Exported from Inkwell on \d{4}-\d\d-\d\d \d\d:\d\d UTC")
PIRATE_HEADING = re.compile(r"Pirate · strength 1\.5 · temperature 0\.7 · top-p 0\.9 · max tokens 64 · "
                            r"\d{4}-\d\d-\d\d \d\d:\d\d · aborted")


def test_markdown_and_text_exports_carry_date_style_and_settings(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer, "Sea / poem")
    box, status = history.export(services, writer, sid, "markdown")
    assert box["visible"] is True
    path = box["value"]
    markdown = Path(path).read_text()
    assert Path(path).name == "Sea-poem.md" and status == "Exported “Sea / poem” as Markdown."
    lines = markdown.splitlines()
    assert lines[0] == "# Sea / poem" and DATE_LINE.fullmatch(lines[2].strip("*"))
    assert lines[4:7] == ["## Prompt", "", "> Write about the sea"]
    assert re.search(r"## " + PIRATE_HEADING.pattern + r"\n\nThe sea sings\n", markdown)
    assert markdown.count("The sea sings") == 1
    text_path, status = history.export(services, writer, sid, "text")
    text_path = text_path["value"]
    text = Path(text_path).read_text()
    assert Path(text_path).suffix == ".txt" and status.endswith("as plain text.")
    assert text.startswith("Sea / poem\n==========\n") and DATE_LINE.search(text) and "#" not in text
    assert "\nPROMPT\nWrite about the sea\n" in text
    assert re.search(r"\[" + PIRATE_HEADING.pattern + r"\]\nThe sea sings\n", text)


def test_docx_export_is_a_word_document_with_date_style_and_settings(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    sid = seed_session(store, writer)
    path, status = history.export(services, writer, sid, "docx")
    path = path["value"]
    assert Path(path).name == "Sea-poem.docx" and status == "Exported “Sea poem” as Word (.docx)."
    document = Document(path)
    assert document.core_properties.title == "Sea poem"
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    assert paragraphs[0] == ("Title", "Sea poem") and DATE_LINE.fullmatch(paragraphs[1][1])
    assert ("Heading 2", "Prompt") in paragraphs and ("Quote", "Write about the sea") in paragraphs
    headings = [text for style, text in paragraphs if style == "Heading 2" and text != "Prompt"]
    assert len(headings) == 2 and PIRATE_HEADING.fullmatch(headings[1]) and headings[0].startswith("Poetry · ")
    assert paragraphs[-1] == ("Normal", "The sea sings")


def test_docx_export_leaves_out_characters_word_cannot_hold(store, writer, tmp_path) -> None:
    sid = store.new_session(writer.user_id, "Odd bytes", "poetry")
    mid = store.start_generation(writer.user_id, sid, "Go", "poetry", 1.0, {})
    store.finish_generation(mid, GenerationRecord("bell\x07 and\x00 null\ttab", "complete"))
    box, status = history.export(make_services(ScriptedEngine([]), store), writer, sid, "docx")
    assert status.startswith("Exported") and Document(box["value"]).paragraphs[-1].text == "bell and null\ttab"


def test_markdown_keeps_a_poems_line_breaks() -> None:
    assert hard_breaks("Roses red,\nviolets blue.\n\nNew stanza") == "Roses red,  \nviolets blue.\n\nNew stanza"
    assert hard_breaks("already  \nbroken") == "already  \nbroken"
    transcript = Transcript("Poem", [MessageRow("user", "one\ntwo"), MessageRow("assistant", "a\nb")])
    markdown = to_markdown(transcript)
    assert "> one  \n> two" in markdown and markdown.endswith("a  \nb\n")


def test_export_refusals_are_words(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    box, status = history.export(services, writer, None, "docx")
    assert (box["visible"], status) == (False, "⚠️ Pick a session first.")
    assert history.export(services, None, 1, "text")[1].startswith("⚠️ Log in")


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


def test_an_unchanged_list_is_not_sent_again_and_the_pick_is_kept(store, writer) -> None:
    services = make_services(ScriptedEngine([]), store)
    first = seed_session(store, writer, "First")
    picker, shown = history.reload_list(services, writer, None, None)
    assert [v for _, v in picker["choices"]] == [first] and shown == picker["choices"]
    assert history.reload_list(services, writer, first, shown) == ({"__type__": "update"}, shown)
    second = seed_session(store, writer, "Second")
    picker, shown = history.reload_list(services, writer, first, shown)
    assert [v for _, v in picker["choices"]] == [second, first] and picker["value"] == first  # pick kept
    store.delete_session(writer.user_id, first)
    assert history.reload_list(services, writer, first, shown)[0]["value"] is None
