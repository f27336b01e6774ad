"""Unsent prompts: what a writer typed but has not generated from yet, one per writer."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from db.models import NAME_MAX, PromptDraft
from db.repo_common import check_id
from db.types import utcnow

PROMPT_MAX = 100_000  # characters; the UI refuses longer prompts before they get here


def save_draft(s: Session, *, owner_id: int, prompt: str, style: str | None) -> None:
    """Keep ``prompt`` (and the style it was typed for) as the writer's unsent prompt; '' forgets it."""
    owner_id = check_id(owner_id, "owner_id")
    if not prompt:
        clear_draft(s, owner_id=owner_id)
        return
    if len(prompt) > PROMPT_MAX:
        raise ValueError(f"the prompt is over {PROMPT_MAX:,} characters")
    if style is not None and len(style) > NAME_MAX:
        raise ValueError(f"style names are at most {NAME_MAX} characters")
    draft = s.get(PromptDraft, owner_id) or PromptDraft(owner_id=owner_id)
    draft.prompt, draft.style, draft.updated_at = prompt, style, utcnow()
    s.add(draft)
    s.commit()


def get_draft(s: Session, *, owner_id: int) -> PromptDraft | None:
    """The writer's unsent prompt, or None."""
    return s.get(PromptDraft, check_id(owner_id, "owner_id"))


def clear_draft(s: Session, *, owner_id: int) -> None:
    """Forget the writer's unsent prompt (it became a take)."""
    s.execute(delete(PromptDraft).where(PromptDraft.owner_id == check_id(owner_id, "owner_id")))
    s.commit()
