"""Database fixtures: every test runs once on SQLite (a temporary file) and once on PostgreSQL.

Each test starts from empty tables: SQLite tests on their own file, PostgreSQL tests in a schema
created for this test run (named in the URL's ``search_path``), so two test runs sharing the server
never see each other's rows; tests of migrations get a brand-new empty schema of their own.
PostgreSQL tests skip when the server is unreachable, unless ``INKWELL_REQUIRE_SYSTEM_TESTS=1`` (CI),
where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

import db.models  # noqa: F401  (registers the tables on Base.metadata)
from db import security
from db.base import Base, make_engine, make_session_factory, upgrade_schema

BACKENDS = ["sqlite", "postgresql"]
DEFAULT_POSTGRES_URL = "postgresql+psycopg2://inkwell:inkwell@127.0.0.1:5432/inkwell_test"


def postgres_admin_url() -> str:
    """The PostgreSQL server the tests use."""
    return os.environ.get("INKWELL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@lru_cache(maxsize=1)
def postgres_unreachable_reason() -> str | None:
    """None when the test server answers, else why not."""
    engine = create_engine(postgres_admin_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to connect means: no server for these tests
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    finally:
        engine.dispose()


def require_postgres() -> None:
    """Skip (or, in CI, fail) the current test when PostgreSQL is unreachable."""
    reason = postgres_unreachable_reason()
    if reason is None:
        return
    message = (
        f"PostgreSQL unreachable at {postgres_admin_url()} ({reason}); run `bash scripts/system-deps.sh` "
        "as root or set INKWELL_TEST_POSTGRES_URL"
    )
    if os.environ.get("INKWELL_REQUIRE_SYSTEM_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema; the schema is dropped afterwards."""
    require_postgres()
    schema = f"inkwell_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url())
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_admin_url()}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL (no tables at all), for each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inkwell.db'}"
        return
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "inkwell.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    engine.dispose()  # the last connection's close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_migrated_engine() -> Iterator[Engine]:
    """A PostgreSQL schema migrated to the newest revision once; tests empty its tables first."""
    with fresh_postgres_schema() as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated database with empty tables, for each backend in turn.

    Migrating takes 0.2-0.5 s per database, so it is done once per backend: SQLite tests get a copy
    of a migrated file, PostgreSQL tests a migrated schema whose tables are truncated first.
    """
    if request.param == "postgresql":
        engine = request.getfixturevalue("postgres_migrated_engine")
        truncate_all(engine)
        yield engine
        return
    sqlite_template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "inkwell.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every table and restart the id sequences (PostgreSQL)."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated test database."""
    return make_session_factory(engine)


@pytest.fixture
def s(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the migrated test database."""
    with session_factory() as session:
        yield session


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Hash passwords with argon2's cheapest profile: same code path, milliseconds instead of 0.16 s."""
    previous = security.configure_hasher(PasswordHasher.from_parameters(CHEAPEST))
    yield
    security.configure_hasher(previous)
