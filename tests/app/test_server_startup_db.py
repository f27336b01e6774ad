"""Server start and the database: one engine for the API and the UI, migrated once, cleaned up once.

A reply left ``pending`` by a server that stopped mid-generation is ``aborted`` after the restart, and
guest accounts idle past ``guest_retention_days`` are gone.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from unittest import mock

import alembic.command
import httpx
from sqlalchemy import select

import db.base
from app.main import create_app
from app.settings import Settings
from db import repository as repo
from db.base import make_engine, make_session_factory
from db.models import Message, MessageStatus, User
from db.repo_messages import RESTART_ERROR
from db.types import utcnow
from tests.app.conftest import build_engine, live


def seed_crashed_generation_and_guests(url: str) -> int:
    """A pending reply (as a crash leaves it) and guests idle 6 and 1 days; returns the reply's id."""
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        writer = repo.create_user(s, username="writer", password=None, role="guest")
        session = repo.create_session(s, owner_id=writer.id, title="draft", style="verse")
        _, reply = repo.start_generation(s, owner_id=writer.id, session_id=session.id, prompt="Write",
                                         style="verse", lora_scale=1.0, params=None)
        for name, idle_days in (("guest-idle", 6), ("guest-recent", 1)):
            guest = repo.create_user(s, username=name, password=None, role="guest")
            guest.created_at = utcnow() - timedelta(days=idle_days)
        s.commit()
    engine.dispose()
    return reply.id


def test_restart_aborts_pending_replies_and_deletes_idle_guests(serve, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inkwell.db'}"
    with serve({"database_url": url}):
        reply_id = seed_crashed_generation_and_guests(url)  # the server "crashes" mid-generation
    with serve({"database_url": url, "guest_retention_days": 5}):
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            reply = s.get(Message, reply_id)
            assert (reply.status, reply.error) == (MessageStatus.ABORTED, RESTART_ERROR)
            assert set(s.scalars(select(User.username))) == {"writer", "guest-recent"}
        engine.dispose()


def test_api_and_ui_share_one_engine_migrated_once(tmp_path: Path, tiny_llama_dir: Path) -> None:
    (tmp_path / "nostyles").mkdir()
    settings = Settings(served_model_name="tiny", database_url=f"sqlite:///{tmp_path / 'inkwell.db'}",
                        styles_dir=tmp_path / "nostyles", enable_ui=True)
    with mock.patch.object(db.base, "create_engine", wraps=db.base.create_engine) as engines, \
            mock.patch.object(alembic.command, "upgrade", wraps=alembic.command.upgrade) as upgrades:
        app = create_app(settings, build_engine(tiny_llama_dir))
        with live(app) as server:
            assert httpx.get(f"{server.url}/share/no-such-token", timeout=30).status_code == 404  # UI store
            assert httpx.get(f"{server.url}/v1/models", timeout=30).status_code == 200
    assert engines.call_count == 1
    assert upgrades.call_count == 1
