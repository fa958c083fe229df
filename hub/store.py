"""The SQL store: one engine, the canonical tables, batched idempotent upserts.

SQLite (a file path from the config) is the default; any SQLAlchemy URL works,
PostgreSQL at scale. Upserts use the database's native ``ON CONFLICT`` and
keep, per deterministic id, the version with the latest ``source_updated_at``,
so replaying a page after a crash changes nothing and an older copy of a
record never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Table,
    case,
    create_engine,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

import hub.history
import hub.state  # noqa: F401 - registers the state table
from hub import jsontext
from hub.errors import ConfigError, Problem
from hub.failpoints import failpoint
from hub.migrate import ensure_schema
from hub.schema import ENTITIES, ENVELOPE_FIELDS

#: Key of ``extra`` where destinations record a row's ids in other systems; kept
#: across new versions of the row (see Store.upsert).
LINKS_KEY = "_hub_links"

# SQLite allows 32766 bound parameters per statement; executemany binds per row.
DEFAULT_BATCH_SIZE = 500


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; NORMAL sync is durable against a
    # process crash (SIGKILL), which is what a sync must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Store:
    """Owns the engine and writes canonical rows."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise ConfigError(
                [
                    Problem(
                        file="hub.yaml",
                        location="database",
                        message=f"not a database URL ({exc})",
                        hint="use sqlite:///hub.db or postgresql+psycopg://user@host/db",
                    )
                ]
            ) from None
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("postgresql", "sqlite"):
            raise ConfigError(
                [
                    Problem(
                        file="hub.yaml",
                        location="database",
                        message=f"the {self.dialect!r} database is not supported",
                        hint="use sqlite:///hub.db or postgresql+psycopg://user@host/db",
                    )
                ]
            )
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # JSON columns always get valid JSON (NaN as text, integers of any size)
        self.engine: Engine = create_engine(
            parsed, echo=echo, future=True, json_serializer=jsontext.dumps
        )
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._tables: dict[str, Table] = {
            name: table.__table__  # type: ignore[attr-defined]
            for name, (_, table) in ENTITIES.items()
        }
        self._plans: dict[tuple[str, bool], _UpsertPlan] = {}

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for a file-backed SQLite store."""
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return Path(str(self.url.database)).resolve()

    def create_all(self) -> None:
        """Bring the database to the newest schema revision, creating it when empty.

        Every database the hub opens is migration-managed (``alembic_version``);
        existing rows are kept. See hub.migrate and docs/decisions/0014-migrations.md.
        """
        ensure_schema(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any error."""
        with self.engine.begin() as connection:
            yield connection

    def table(self, entity: str) -> Table:
        return self._tables[entity]

    def upsert(
        self,
        connection: Connection,
        entity: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        fill: bool = False,
    ) -> int:
        """Insert or update ``rows`` of ``entity``; returns the number of distinct rows sent.

        A row replaces the stored one unless the stored version is newer
        (``source_updated_at``). With ``fill``, the rows are references (the
        partner named by a sale): they create the entity if missing and fill its
        empty columns, but never overwrite a value and never count as a version.
        """
        if not rows:
            return 0
        unique = latest_per_id(rows)
        connection.exec_driver_sql(*self._upsert_plan(entity, fill).parameters(unique))
        failpoint("store.upsert")
        return len(unique)

    def _upsert_plan(self, entity: str, fill: bool) -> _UpsertPlan:
        plan = self._plans.get((entity, fill))
        if plan is None:
            plan = self._plans[entity, fill] = _UpsertPlan.compile(
                self._upsert_statement(entity, fill), self.engine.dialect, fill=fill
            )
        return plan

    def _upsert_statement(self, entity: str, fill: bool) -> Any:
        table = self._tables[entity]
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert(table)
        excluded = statement.excluded
        if fill:
            gaps = {
                column.name: func.coalesce(column, excluded[column.name])
                for column in table.columns
                if column.name not in ENVELOPE_FIELDS
            }
            return statement.on_conflict_do_update(index_elements=[table.c.id], set_=gaps)
        updated = {
            column.name: excluded[column.name] for column in table.columns if column.name != "id"
        }
        updated["extra"] = self._keep_links(table, excluded)
        return statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_=updated,
            where=or_(
                excluded.source_updated_at.is_(None),
                table.c.source_updated_at.is_(None),
                excluded.source_updated_at >= table.c.source_updated_at,
            ),
        )

    def _keep_links(self, table: Table, excluded: Any) -> Any:
        """The new ``extra``, carrying over the stored row's ``extra[LINKS_KEY]``.

        Destinations record the ids a row has in other systems there (the
        Shopify price rule of an offer); a new version of the row from its
        source knows nothing of them and must not erase them.
        """
        stored, incoming = table.c.extra, excluded["extra"]
        links: Any
        merged: Any
        if self.dialect == "postgresql":
            links = stored.op("->")(LINKS_KEY)
            merged = incoming.op("||")(func.jsonb_build_object(LINKS_KEY, links))
        else:
            links = func.json_extract(stored, f"$.{LINKS_KEY}")
            merged = func.json_set(incoming, f"$.{LINKS_KEY}", func.json(links))
        return case((links.is_(None), incoming), else_=merged)

    def record_links(
        self,
        connection: Connection,
        entity: str,
        links: Mapping[str, Mapping[str, Any]],
        *,
        tenant: str,
    ) -> int:
        """Merge ``{row id: {system: ids}}`` into each row of ``tenant``'s ``extra[LINKS_KEY]``.

        A targeted update: no new version of the row (``source_updated_at`` and
        ``synced_at`` stay). Returns the number of rows changed; ids unknown, or
        of another tenant's rows (an id can come from a pushed file), are ignored.
        """
        table = self._tables[entity]
        changed = 0
        for row_id, systems in sorted(links.items()):
            found = connection.execute(
                select(table.c.extra)
                .where(table.c.id == row_id, table.c.tenant == tenant)
                .with_for_update()
            ).first()
            if found is None:
                continue
            extra = dict(found.extra or {})
            current = dict(extra.get(LINKS_KEY) or {})
            merged = {**current, **systems}
            if merged == current:
                continue
            extra[LINKS_KEY] = merged
            connection.execute(
                update(table)
                .where(table.c.id == row_id, table.c.tenant == tenant)
                .values(extra=extra)
            )
            changed += 1
        return changed

    def dispose(self) -> None:
        self.engine.dispose()


_MISSING = object()


class _UpsertPlan:
    """An upsert statement compiled once, and the conversion of rows into its parameters.

    SQLAlchemy would compile nothing new per batch either, but it builds a
    parameter dict per row and calls each column type's converter through
    several layers; on the sync path that was a third of the time spent
    writing. Here the statement's SQL, the parameter order and each
    parameter's converter (the column type's own bind processor, so the stored
    values are exactly what SQLAlchemy would store) are resolved once, and a
    batch becomes a list of tuples (or dicts, for named-parameter drivers)
    handed to the driver's ``executemany``. A column missing from a row gets
    its column default, as SQLAlchemy gives it.
    """

    def __init__(self, sql: str, slots: list[_Slot], positional: bool) -> None:
        self.sql = sql
        self.slots = slots
        self.names = [slot.name for slot in slots]
        self.positional = positional

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect, *, fill: bool) -> _UpsertPlan:
        compiled = statement.compile(dialect=dialect)
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        columns = {column.name: column for column in statement.table.columns}
        slots = []
        for name in names:
            bind = compiled.binds[name]
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            column = columns.get(name)
            if column is None or (fill and name == "source_updated_at"):
                constant = None if column is not None else bind.effective_value
                slots.append(_Slot(name, None, False, convert(constant) if convert else constant))
                continue
            slot = _Slot(name, convert, True, None)
            if column.default is not None and column.default.is_scalar:
                slot.default = column.default.arg
            elif column.default is not None and column.default.is_callable:
                slot.make_default = column.default.arg
            slots.append(slot)
        return cls(compiled.string, slots, bool(compiled.positional))

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[Any]]:
        """The SQL and one parameter set per row, ready for the driver's ``executemany``."""
        slots = self.slots
        sets: list[Any] = []
        for row in rows:
            values = []
            for slot in slots:
                if not slot.from_row:
                    values.append(slot.constant)
                    continue
                value = row.get(slot.name, _MISSING)
                if value is _MISSING:
                    value = slot.make_default(None) if slot.make_default else slot.default
                values.append(slot.convert(value) if slot.convert is not None else value)
            sets.append(
                tuple(values) if self.positional else dict(zip(self.names, values, strict=True))
            )
        return self.sql, sets


class _Slot:
    """One parameter of an upsert: a row's column (converted) or a constant of the SQL."""

    __slots__ = ("constant", "convert", "default", "from_row", "make_default", "name")

    def __init__(
        self, name: str, convert: Callable[[Any], Any] | None, from_row: bool, constant: Any
    ) -> None:
        self.name = name
        self.convert = convert
        self.from_row = from_row
        self.constant = constant
        self.default: Any = None
        self.make_default: Callable[[Any], Any] | None = None


def latest_per_id(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per id: the one with the latest ``source_updated_at`` (later wins ties)."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        current = chosen.get(row["id"])
        if current is None or _not_older(
            row.get("source_updated_at"), current.get("source_updated_at")
        ):
            chosen[row["id"]] = row
    return list(chosen.values())


def _not_older(candidate: datetime | None, current: datetime | None) -> bool:
    if candidate is None or current is None:
        return True
    return candidate >= current
