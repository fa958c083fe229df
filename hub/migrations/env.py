"""Alembic environment of the hub: every hub table is the target metadata.

Run by ``hub.migrate`` (``hub db upgrade``); the plain ``alembic`` command works
too with ``-x url=...`` or ``sqlalchemy.url`` in its own ini file. Online, the
connection given in ``config.attributes["connection"]`` is used when present,
so the store migrates inside its own transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from hub.migrate import target_metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set sqlalchemy.url")
    return url


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata(),
        # SQLite cannot ALTER most things: later migrations get copy-and-move batches.
        render_as_batch=True,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the caller's connection, or a fresh engine on the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as fresh:
            _run_on(fresh)
            fresh.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
