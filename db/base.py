"""Database plumbing: the declarative base, engine and session factories, schema migrations.

The URL comes from the argument, else ``$DATABASE_URL``, else a SQLite file
``$INKWELL_DATA_DIR/inkwell.db`` (``INKWELL_DATA_DIR`` defaults to ``~/.local/share/inkwell``).

SQLite connections run in WAL mode with foreign keys on and a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE``: a writer takes the write lock up front and waits its turn, instead of
failing with "database is locked" when its read snapshot went stale under another writer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30.0
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Inkwell table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def data_dir() -> Path:
    """The app's data folder: ``$INKWELL_DATA_DIR``, else ``~/.local/share/inkwell``."""
    return Path(os.environ.get("INKWELL_DATA_DIR") or "~/.local/share/inkwell").expanduser()


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``$DATABASE_URL``, else the SQLite file in the data folder."""
    if url:
        return url
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return f"sqlite:///{data_dir() / 'inkwell.db'}"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (see :func:`database_url`); extra kwargs go to ``create_engine``."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: WAL, foreign keys, busy timeout; hand transaction control to SQLAlchemy."""
    dbapi_connection.isolation_level = None  # the driver no longer issues its own BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def upgrade_schema(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest), creating it from empty if needed."""
    _run_migration(command.upgrade, url_or_engine, revision)


def downgrade_schema(url_or_engine: str | Engine | None = None, revision: str = "base") -> None:
    """Migrate the database down to ``revision`` (default: ``base``, which drops every table)."""
    _run_migration(command.downgrade, url_or_engine, revision)


def current_revision(url_or_engine: str | Engine | None = None) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    engine, owned = _engine_for(url_or_engine)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def alembic_config() -> Config:
    """An Alembic configuration for the packaged migrations; no alembic.ini lookup."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _run_migration(step: Any, url_or_engine: str | Engine | None, revision: str) -> None:
    engine, owned = _engine_for(url_or_engine)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        if owned:
            engine.dispose()


def _engine_for(url_or_engine: str | Engine | None) -> tuple[Engine, bool]:
    """The engine to use and whether we created it (and so must dispose of it)."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True
