"""Migrations: an empty database upgraded to head has exactly the models' schema.

THE check is Alembic's own autogenerate comparison (``compare_metadata``): it
must find no difference between the migrated database and the models, on
SQLite and on PostgreSQL. Alembic does not compare primary keys, so those are
checked separately from the inspector.
"""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Index, MetaData, Text, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from typer.testing import CliRunner

import hub.cli as cli_module
from hub import migrate
from hub.cli import app
from hub.schema import make_id
from hub.store import Store

VERSIONS = Path(migrate.script_location()) / "versions"


def _shipped_head() -> str:
    """The head, read from the revision files themselves (not through Alembic)."""
    revisions: dict[str, str | None] = {}
    for path in VERSIONS.glob("*.py"):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                values[node.target.id] = ast.literal_eval(node.value)
        revisions[values["revision"]] = values["down_revision"]
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, heads
    return heads.pop()


def _wipe(url: str) -> None:
    """Drop every table, alembic_version included: a truly empty database."""
    engine = create_engine(url)
    with engine.begin() as connection:
        found = MetaData()
        found.reflect(connection)
        found.drop_all(connection)
    engine.dispose()


@pytest.fixture
def empty_url(database_url: str) -> Iterator[str]:
    """An empty database on each backend (PostgreSQL's shared test database is wiped)."""
    _wipe(database_url)
    yield database_url
    _wipe(database_url)


def _diffs(url: str, metadata: MetaData | None = None) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, metadata or SQLModel.metadata)
    engine.dispose()
    return list(diffs)


def _primary_keys(url: str) -> dict[str, list[str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        keys = {
            table: inspector.get_pk_constraint(table)["constrained_columns"]
            for table in inspector.get_table_names()
            if table != migrate.VERSION_TABLE
        }
    engine.dispose()
    return keys


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return found


def _model_primary_keys() -> dict[str, list[str]]:
    return {
        name: [c.name for c in table.primary_key.columns]
        for name, table in SQLModel.metadata.tables.items()
    }


def _assert_schema_is_the_models(url: str) -> None:
    assert _diffs(url) == []
    assert _primary_keys(url) == _model_primary_keys()


# --- the migrated schema is the models' schema -------------------------------------


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(empty_url: str) -> None:
    assert _revision(empty_url) is None
    reached = migrate.upgrade(empty_url)
    assert reached == _shipped_head() == migrate.head()
    assert migrate.current(empty_url) == _shipped_head()
    _assert_schema_is_the_models(empty_url)


def _mutated(change: str) -> MetaData:
    """A copy of the models with one deliberate difference."""
    metadata = MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(metadata)
    if change == "type":
        metadata.tables["sync_run"].c["counts"].type = Text()
    elif change == "nullability":
        metadata.tables["conversion"].c["currency"].nullable = False
    elif change == "index":
        Index("ix_partner_name", metadata.tables["partner"].c["name"])
    elif change == "missing table":
        metadata.remove(metadata.tables["sync_state"])
    return metadata


@pytest.mark.parametrize("change", ["type", "nullability", "index", "missing table"])
def test_the_comparison_sees_a_difference(empty_url: str, change: str) -> None:
    """The check above can fail: one changed model is one reported difference."""
    migrate.upgrade(empty_url)
    assert len(_diffs(empty_url, _mutated(change))) == 1


def test_a_new_store_is_created_at_head_with_the_same_schema(empty_url: str) -> None:
    """Store.create_all's fast path (create_all + stamp) ends where the migrations do."""
    store = Store(empty_url)
    store.create_all()
    store.engine.dispose()
    assert _revision(empty_url) == _shipped_head()
    _assert_schema_is_the_models(empty_url)


def test_downgrade_to_base_and_upgrade_again(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection=connection), "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {migrate.VERSION_TABLE}
    engine.dispose()
    assert migrate.upgrade(empty_url) == _shipped_head()
    _assert_schema_is_the_models(empty_url)


def test_offline_mode_prints_the_sql_of_every_table(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    dialect = make_url(database_url).get_backend_name()
    command.upgrade(migrate.alembic_config(url=f"{dialect}://"), "head", sql=True)
    sql = capsys.readouterr().out
    for table in SQLModel.metadata.tables:
        assert f"CREATE TABLE {table} (" in sql
    if dialect == "postgresql":
        assert "JSONB" in sql and "NUMERIC(24, 8)" in sql and "TIMESTAMP WITH TIME ZONE" in sql


# --- upgrades keep data; old and odd databases ---------------------------------------


def _write_partner(store: Store) -> str:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row_id = make_id("acme", "awin", "partner", "p-1")
    row = {
        "id": row_id,
        "tenant": "acme",
        "source": "awin",
        "connection": "acme-awin",
        "external_id": "p-1",
        "source_updated_at": now,
        "synced_at": now,
        "extra": {"price": Decimal("1.10")},
        "name": "Trail Blog",
        "kind": "publisher",
        "categories": ["outdoor"],
    }
    with store.transaction() as db:
        store.upsert(db, "partner", [row])
    return row_id


def _partner_names(store: Store) -> list[str]:
    with store.transaction() as db:
        return list(db.execute(select(store.table("partner").c.name)).scalars())


def test_upgrade_is_idempotent_and_keeps_rows(empty_url: str) -> None:
    store = Store(empty_url)
    store.create_all()
    _write_partner(store)
    assert migrate.upgrade(empty_url) == _shipped_head()
    assert migrate.upgrade(empty_url) == _shipped_head()
    store.create_all()
    assert _partner_names(store) == ["Trail Blog"]
    store.engine.dispose()
    _assert_schema_is_the_models(empty_url)


def test_a_database_from_before_migrations_is_stamped_and_keeps_its_rows(empty_url: str) -> None:
    """Created by the old create_all (no alembic_version): adopted at the initial revision."""
    store = Store(empty_url)
    SQLModel.metadata.create_all(store.engine)  # what every hub before migrations did
    _write_partner(store)
    assert _revision(empty_url) is None
    store.create_all()
    assert _revision(empty_url) == _shipped_head()
    assert _partner_names(store) == ["Trail Blog"]
    store.engine.dispose()
    _assert_schema_is_the_models(empty_url)


def test_hub_db_upgrade_also_adopts_a_database_from_before_migrations(empty_url: str) -> None:
    engine = create_engine(empty_url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    assert migrate.upgrade(empty_url) == _shipped_head()
    _assert_schema_is_the_models(empty_url)


def test_an_unknown_old_schema_is_refused_with_the_difference(empty_url: str) -> None:
    engine = create_engine(empty_url)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_partner_tenant"))
    engine.dispose()
    store = Store(empty_url)
    with pytest.raises(migrate.MigrationError) as caught:
        store.create_all()
    store.engine.dispose()
    message = str(caught.value)
    assert "partner: indexes differ" in message and "Fix:" in message
    assert _revision(empty_url) is None  # nothing was stamped


def test_a_database_migrated_by_a_newer_hub_is_refused(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    engine.dispose()
    with pytest.raises(migrate.MigrationError, match="newer release; upgrade the hub"):
        migrate.upgrade(empty_url)


def test_tables_dropped_at_head_are_recreated(empty_url: str) -> None:
    store = Store(empty_url)
    store.create_all()
    with store.transaction() as db:
        SQLModel.metadata.drop_all(db)
    store.create_all()
    store.engine.dispose()
    assert _revision(empty_url) == _shipped_head()
    _assert_schema_is_the_models(empty_url)


@pytest.mark.postgres
def test_processes_opening_one_new_database_at_once_migrate_it_once(
    postgres_url: str,
) -> None:
    """Workers start together: the advisory lock makes one create and the others wait."""
    _wipe(postgres_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        store = Store(postgres_url)
        try:
            barrier.wait()
            store.create_all()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.engine.dispose()

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert _revision(postgres_url) == _shipped_head()
        _assert_schema_is_the_models(postgres_url)
    finally:
        _wipe(postgres_url)


# --- hub db ... ----------------------------------------------------------------------


@pytest.fixture
def cli() -> Iterator[CliRunner]:
    yield CliRunner()
    logging.getLogger().removeHandler(cli_module._log_handler)


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(f"database: '{url}'\ntenants: {{}}\nconnections: {{}}\n")
    return path


def test_hub_db_current_upgrade_history(cli: CliRunner, tmp_path: Path, empty_url: str) -> None:
    config = str(_config(tmp_path, empty_url))
    head = _shipped_head()

    result = cli.invoke(app, ["--config", config, "db", "current"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("none") and "hub db upgrade" in result.output
    result = cli.invoke(app, ["--config", config, "db", "current", "--check"])
    assert result.exit_code == 1

    result = cli.invoke(app, ["--config", config, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"database upgraded from empty to {head} (head)"
    assert _revision(empty_url) == head

    result = cli.invoke(app, ["--config", config, "db", "upgrade"])
    assert result.output.strip() == f"database already at {head} (head)"

    result = cli.invoke(app, ["--config", config, "db", "current", "--check"])
    assert result.exit_code == 0 and result.output.strip() == f"{head} (head)"

    result = cli.invoke(app, ["--config", config, "db", "history"])
    assert result.exit_code == 0 and f"-> {head} (head):" in result.output


def test_hub_db_upgrade_refusal_is_one_readable_message(
    cli: CliRunner, tmp_path: Path, empty_url: str
) -> None:
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE partner (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    result = cli.invoke(app, ["--config", str(_config(tmp_path, empty_url)), "db", "upgrade"])
    assert result.exit_code == 1
    assert "no migration history" in result.output and "Traceback" not in result.output


def test_the_shipped_head_constant_is_alembics_head() -> None:
    # ensure_schema recognises an up-to-date database by this constant without
    # loading Alembic; a new revision must move it
    assert migrate.head() == migrate.SHIPPED_HEAD


@pytest.mark.parametrize("existing", [False, True], ids=["new", "at-head"])
def test_a_new_database_or_one_at_head_is_opened_without_loading_alembic(
    tmp_path: Path, existing: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    if existing:
        Store(url).create_all()
    script = (
        "import sys\n"
        "from hub.store import Store\n"
        f"Store({url!r}).create_all()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
    assert migrate.current(url) == migrate.head()


def test_the_version_table_of_a_new_database_is_alembics_own(tmp_path: Path) -> None:
    ours = f"sqlite:///{tmp_path / 'ours.db'}"
    Store(ours).create_all()
    theirs = create_engine(f"sqlite:///{tmp_path / 'theirs.db'}")
    with theirs.begin() as connection:
        MigrationContext.configure(connection).stamp(migrate._scripts(), "head")

    def shape(engine: Any) -> tuple[Any, ...]:
        inspector = inspect(engine)
        columns = [
            (c["name"], str(c["type"]), c["nullable"])
            for c in inspector.get_columns("alembic_version")
        ]
        return columns, inspector.get_pk_constraint("alembic_version")

    ours_engine = create_engine(ours)
    try:
        assert shape(ours_engine) == shape(theirs)
        with ours_engine.connect() as a, theirs.connect() as b:
            sql = "SELECT sql FROM sqlite_master WHERE name = 'alembic_version'"
            assert a.execute(text(sql)).scalar_one() == b.execute(text(sql)).scalar_one()
    finally:
        ours_engine.dispose()
        theirs.dispose()
