"""Database fixtures: every test runs once on SQLite (a temporary file) and once on PostgreSQL.

Each PostgreSQL test gets its own freshly created schema (named in the URL's ``search_path``), so
tests never see each other's rows, even when two test runs share the server. PostgreSQL tests skip
when the server is unreachable, unless ``INKWELL_REQUIRE_SYSTEM_TESTS=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import lru_cache

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from db import security
from db.base import make_engine, make_session_factory, upgrade_schema

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


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An empty database's URL, for each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inkwell.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database migrated to the newest schema."""
    engine = make_engine(db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


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
