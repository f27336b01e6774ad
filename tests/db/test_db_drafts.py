"""Unsent prompts: one per writer, replaced as they type, forgotten on '', gone with their writer."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from db import repository as repo
from db.repo_drafts import PROMPT_MAX

PASSWORD = "correct horse battery"


def test_a_prompt_is_kept_replaced_and_forgotten(s: Session) -> None:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    assert repo.get_draft(s, owner_id=alice.id) is None
    repo.save_draft(s, owner_id=alice.id, prompt="A letter to", style="poetry")
    repo.save_draft(s, owner_id=alice.id, prompt="A letter to my landlord", style="legal")
    draft = repo.get_draft(s, owner_id=alice.id)
    assert (draft.prompt, draft.style) == ("A letter to my landlord", "legal")
    repo.save_draft(s, owner_id=alice.id, prompt="", style="legal")
    assert repo.get_draft(s, owner_id=alice.id) is None


def test_each_writer_sees_only_their_own(s: Session) -> None:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    bob = repo.create_user(s, username="bob", password=PASSWORD)
    repo.save_draft(s, owner_id=alice.id, prompt="Alice's idea", style=None)
    assert repo.get_draft(s, owner_id=bob.id) is None
    repo.clear_draft(s, owner_id=bob.id)
    assert repo.get_draft(s, owner_id=alice.id).prompt == "Alice's idea"


def test_deleting_the_writer_deletes_the_prompt(s: Session) -> None:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    repo.save_draft(s, owner_id=alice.id, prompt="Soon gone", style=None)
    assert repo.delete_user(s, user_id=alice.id)
    s.expire_all()
    assert repo.get_draft(s, owner_id=alice.id) is None


@pytest.mark.parametrize(("prompt", "style", "words"), [("x" * (PROMPT_MAX + 1), None, "characters"),
                                                         ("ok", "s" * 65, "style names")])
def test_oversized_input_is_refused_in_words(s: Session, prompt: str, style: str | None, words: str) -> None:
    alice = repo.create_user(s, username="alice", password=PASSWORD)
    with pytest.raises(ValueError, match=words):
        repo.save_draft(s, owner_id=alice.id, prompt=prompt, style=style)
