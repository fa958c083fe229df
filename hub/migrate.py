"""Schema migrations: Alembic, configured in code, with the scripts shipped in the package.

Every database the hub opens is brought to the newest revision ("head") by
:func:`ensure_schema` (called by ``Store.create_all``); ``hub db upgrade`` and
``hub db current`` expose the same machinery. The decisions, in short (see
docs/decisions/0014-migrations.md):

- A brand-new database (no hub table, no ``alembic_version``) gets the models'
  tables in one ``create_all`` and is stamped at head: Alembic's documented
  recipe, and several times faster than replaying every revision. The test
  suite proves that replaying the revisions gives exactly the models' schema,
  so both paths end in the same database.
- A database created by a hub from before migrations (hub tables, no
  ``alembic_version``) is stamped at the initial revision when its schema is
  that revision's, then upgraded; any other shape is refused with the
  differences, never guessed at.
- A database with a revision is upgraded to head.

On PostgreSQL the whole check-and-migrate runs in one transaction under an
advisory lock, so workers starting together never migrate twice.

A database already at the shipped head (every run after the first) is
recognised by one query, without loading Alembic at all: that is most of
the cost of starting a sync (bench/README.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import make_url

from hub.errors import HubError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: The first revision: the schema of the last hub release before migrations.
INITIAL_REVISION = "0001"
#: The newest revision in hub/migrations/versions (a test checks it is Alembic's head):
#: a database stamped with it needs no migration, and no Alembic import.
SHIPPED_HEAD = "0001"
VERSION_TABLE = "alembic_version"

_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"partner-hub:schema-migration").digest()[:8], "big", signed=True
)


class MigrationError(HubError):
    """The database cannot be brought to the hub's schema without a person deciding."""


def target_metadata() -> MetaData:
    """Every hub table (canonical and operational), registered by importing its module."""
    from sqlmodel import SQLModel

    import hub.history  # sync_run, quarantine
    import hub.schema.models  # the canonical tables
    import hub.state  # noqa: F401 - sync_state

    return SQLModel.metadata


def script_location() -> str:
    """The migrations folder inside the installed package (a real directory, never zipped)."""
    return str(files("hub.migrations"))


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config built in code: no ``alembic.ini`` is needed at run time."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location())
    if url is not None:
        # ConfigParser interpolation: a literal % (URL-encoded passwords) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this hub ships."""
    revision = _scripts().get_current_head()
    if revision is None:  # pragma: no cover - the package always ships revisions
        raise MigrationError("the hub ships no migrations; reinstall the package")
    return revision


@dataclass(frozen=True)
class Revision:
    """One shipped migration, for ``hub db history``."""

    revision: str
    down_revision: str | None
    message: str


def history() -> list[Revision]:
    """The shipped revisions, oldest first."""
    revisions = [
        Revision(
            revision=script.revision,
            down_revision=script.down_revision
            if isinstance(script.down_revision, str | None)
            else ",".join(script.down_revision),
            message=(script.doc or "").strip(),
        )
        for script in _scripts().walk_revisions()
    ]
    return list(reversed(revisions))


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(make_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, or None when it has none."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def current(url: str) -> str | None:
    """The revision of the database at ``url``, or None when it has none."""
    with _engine(url) as engine, engine.connect() as connection:
        return current_revision(connection)


def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the database at ``url`` to ``revision`` by running the migrations.

    Unlike :func:`ensure_schema`, an empty database replays every revision (this
    is what ``hub db upgrade`` promises). A pre-migration hub database is adopted
    first, as in :func:`ensure_schema`. Returns the revision reached.
    """
    with _engine(url) as engine, engine.begin() as connection:
        _lock(connection)
        if current_revision(connection) is None and _hub_tables(connection):
            _adopt_legacy(connection)
        _run_upgrade(connection, revision)
        return current_revision(connection)


def ensure_schema(engine: Engine) -> None:
    """Bring the database to head the fastest safe way (see the module docstring)."""
    metadata = target_metadata()
    with engine.begin() as connection:
        _lock(connection)
        versions = _recorded_versions(connection)
        if versions == [SHIPPED_HEAD]:
            metadata.create_all(connection)  # a table dropped by hand comes back, as below
            return
        if versions is None and not _hub_tables(connection):
            metadata.create_all(connection)
            _stamp_new(connection)
            return
        found = current_revision(connection)
        if found is None:  # hub tables without a migration history
            _adopt_legacy(connection)
            _run_upgrade(connection, "head")
        elif found != head():
            _run_upgrade(connection, "head")
        # At head the models are the schema (the migration tests prove it), so a
        # table that was dropped by hand is recreated as create_all always did.
        metadata.create_all(connection)


def _recorded_versions(connection: Connection) -> list[str] | None:
    """The revisions in the version table (one query, no Alembic); None without the table."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


#: Alembic's version table, exactly as Alembic creates it (``MigrationContext``'s
#: ``_version``; a test compares the two), so a brand-new database is stamped
#: without importing Alembic (7 MB and a tenth of a second on every first sync).
_VERSION = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _stamp_new(connection: Connection) -> None:
    """Record :data:`SHIPPED_HEAD` in a database that has no version table yet."""
    _VERSION.create(connection)
    connection.execute(_VERSION.insert().values(version_num=SHIPPED_HEAD))


def _lock(connection: Connection) -> None:
    """On PostgreSQL, serialise schema changes across processes until the commit."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _run_upgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(connection=connection), revision)
    except CommandError as exc:
        found = current_revision(connection)
        known = found is None or _known(found)
        raise MigrationError(
            f"cannot upgrade the database to {revision!r}: {exc}",
            hint="`hub db history` lists the revisions this hub ships"
            if known
            else f"the database is at revision {found!r}, which this hub does not ship: "
            "it was migrated by a newer release; upgrade the hub",
        ) from None


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _hub_tables(connection: Connection) -> set[str]:
    existing = set(inspect(connection).get_table_names())
    return existing & set(target_metadata().tables)


# --- adopting a database created before migrations ------------------------------


Shape = dict[str, Any]


def _shape(connection: Connection, tables: set[str]) -> Shape:
    """What identifies a table portably: columns with nullability, primary key, indexes."""
    inspector = inspect(connection)
    shape: Shape = {}
    for table in sorted(tables):
        shape[table] = {
            "columns": {c["name"]: bool(c["nullable"]) for c in inspector.get_columns(table)},
            "primary key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": {
                str(i["name"]): (sorted(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            },
        }
    return shape


@lru_cache(maxsize=1)
def _initial_shape() -> Shape:
    """The initial revision's schema, from replaying it on a scratch in-memory SQLite."""
    from alembic import command

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), INITIAL_REVISION)
            tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
            return _shape(connection, tables)
    finally:
        engine.dispose()


def _differences(expected: Shape, found: Shape) -> list[str]:
    problems = [f"table {t} is missing" for t in sorted(expected.keys() - found.keys())]
    for table in sorted(expected.keys() & found.keys()):
        want, have = expected[table], found[table]
        for aspect in ("columns", "primary key", "indexes"):
            if want[aspect] != have[aspect]:
                problems.append(f"{table}: {aspect} differ ({have[aspect]} != {want[aspect]})")
    return problems


def _adopt_legacy(connection: Connection) -> None:
    """Stamp a pre-migration hub database at the initial revision, if it is exactly that."""
    from alembic.runtime.migration import MigrationContext

    expected = _initial_shape()
    found = _shape(connection, set(inspect(connection).get_table_names()) & expected.keys())
    problems = _differences(expected, found)
    if problems:
        listed = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise MigrationError(
            "this database has hub tables but no migration history, and its schema is not "
            f"the initial revision {INITIAL_REVISION}: {listed}",
            hint="point the hub at a new database (it is created on the first sync), or make "
            f"these tables match revision {INITIAL_REVISION} by hand and run `hub db upgrade`",
        )
    MigrationContext.configure(connection).stamp(_scripts(), INITIAL_REVISION)
