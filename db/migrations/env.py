"""Alembic environment: runs on the connection handed over by ``db.base``, else on ``make_engine``."""

from __future__ import annotations

from alembic import context

import db.models  # noqa: F401  (registers every table on Base.metadata)
from db.base import Base, make_engine

config = context.config


def run_on(connection) -> None:  # type: ignore[no-untyped-def]
    """Configure Alembic for ``connection`` and run the pending migrations in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Use the caller's connection when there is one (``db.base.upgrade_schema``), else open one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.begin() as own_connection:
            run_on(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_online()
