"""Schema migrations: up from empty, down to nothing, no drift between the models and the migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import main as alembic_main
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

import db.models  # noqa: F401  (registers the tables)
from db.base import (
    Base,
    alembic_config,
    current_revision,
    database_url,
    downgrade_schema,
    make_engine,
    upgrade_schema,
)

TABLES = {"users", "writing_sessions", "messages", "styles", "adapter_registrations"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_from_empty_and_back_down(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini in the working directory: the code must not need one
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    upgrade_schema(db_url)
    assert current_revision(engine) == head_revision()
    assert TABLES <= set(inspect(engine).get_table_names())
    downgrade_schema(engine)
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_schema(engine)  # and up again after a full downgrade
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_indexes_for_the_ui_queries(engine: Engine) -> None:
    inspector = inspect(engine)
    index_columns = {
        table: [index["column_names"] for index in inspector.get_indexes(table)]
        for table in ("writing_sessions", "messages")
    }
    assert ["owner_id", "updated_at"] in index_columns["writing_sessions"]
    assert ["session_id", "created_at"] in index_columns["messages"]
    unique = {
        table: [c["column_names"] for c in inspector.get_unique_constraints(table)]
        for table in ("users", "writing_sessions")
    }
    assert ["username"] in unique["users"]
    assert ["share_token"] in unique["writing_sessions"]


def test_sqlite_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")  # the folder is created
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
    engine.dispose()


def test_url_comes_from_argument_then_env_then_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("INKWELL_DATA_DIR", str(tmp_path / "data"))
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'inkwell.db'}"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    assert database_url() == "sqlite:///elsewhere.db"
    assert database_url("postgresql://u@h/d") == "postgresql://u@h/d"
    monkeypatch.delenv("INKWELL_DATA_DIR")
    monkeypatch.delenv("DATABASE_URL")
    assert database_url() == f"sqlite:///{Path('~/.local/share/inkwell/inkwell.db').expanduser()}"


def test_alembic_command_line_uses_the_packaged_ini(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    alembic_main(["-c", str(REPO_ROOT / "db" / "alembic.ini"), "upgrade", "head"])
    assert current_revision(url) == head_revision()
