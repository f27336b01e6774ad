"""Adapters registered at runtime (through the API), so a restart loads them again. Changes are committed."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import PATH_MAX, AdapterRegistration
from db.repo_common import check_name, check_text, commit_upsert
from db.types import utcnow


def register_adapter(s: Session, *, name: str, path: str, base_model_name: str | None = None) -> AdapterRegistration:
    """Record (or update) an adapter loaded at runtime, so the next start loads it again."""
    name = check_name(name, "name")
    path = check_text(path, "path", PATH_MAX)
    base = None if base_model_name is None else check_text(base_model_name, "base_model_name", 255)

    def apply() -> AdapterRegistration:
        now = utcnow()
        registration = s.get(AdapterRegistration, name) or AdapterRegistration(name=name, created_at=now)
        registration.path, registration.base_model_name, registration.updated_at = path, base, now
        s.add(registration)
        return registration

    return commit_upsert(s, apply)


def unregister_adapter(s: Session, *, name: str) -> bool:
    """Forget a runtime adapter; False if none had that name."""
    if not isinstance(name, str):
        return False
    deleted = s.execute(delete(AdapterRegistration).where(AdapterRegistration.name == name)).rowcount
    s.commit()
    return deleted > 0


def list_adapter_registrations(s: Session) -> list[AdapterRegistration]:
    """Every runtime adapter, in the order they were first registered."""
    query = select(AdapterRegistration).order_by(AdapterRegistration.created_at, AdapterRegistration.name)
    return list(s.scalars(query))
