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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

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
from hub.walcheckpoint import WalCheckpointer

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
    # The Store's WalCheckpointer copies the WAL into the database on a thread of its
    # own after each commit; SQLite's own checkpoint, inside a commit, is only the net
    # for writes that bypass Store.transaction (every ~40 MB instead of every 4 MB).
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    # 1 MB of page cache instead of 2: the writes are appends and index inserts the OS
    # page cache serves just as well; it keeps a sync within its memory budget.
    cursor.execute("PRAGMA cache_size=-1000")
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
        path = self.sqlite_path
        self._checkpointer = WalCheckpointer(path) if path is not None else None

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
        if self._checkpointer is not None:
            self._checkpointer.poke()

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
        return self.write(
            connection, entity, [self.prepare(entity, row, fill=fill) for row in rows]
        )

    def prepare(self, entity: str, row: Mapping[str, Any], *, fill: bool = False) -> PreparedRow:
        """``row`` converted to the driver's parameters for :meth:`write`.

        Needs no connection and may run on another thread than the write: the
        runner prepares rows on its read-ahead thread, so the writing thread does
        little more than wait for the database (which releases the GIL).
        """
        plan = self._upsert_plan(entity, fill)
        return PreparedRow(row["id"], row.get("source_updated_at"), fill, plan.to_parameters(row))

    def write(self, connection: Connection, entity: str, rows: Sequence[PreparedRow]) -> int:
        """Upsert prepared rows of one ``entity`` (see :meth:`upsert`); the number of
        distinct rows sent."""
        written = 0
        for fill in (False, True):
            unique = latest_per_id([row for row in rows if row.fill is fill])
            if unique:
                plan = self._upsert_plan(entity, fill)
                connection.exec_driver_sql(plan.sql, [row.parameters for row in unique])
                failpoint("store.upsert")
                written += len(unique)
        return written

    def _upsert_plan(self, entity: str, fill: bool) -> _UpsertPlan:
        plan = self._plans.get((entity, fill))
        if plan is None:  # two threads may both compile it: the same plan, harmless
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
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()


class _UpsertPlan:
    """An upsert statement compiled once, and the conversion of rows into its parameters.

    SQLAlchemy would compile nothing new per batch either, but it builds a
    parameter dict per row and calls each column type's converter through
    several layers; on the sync path that was a third of the time spent
    writing. Here the statement's SQL, the parameter order and each
    parameter's converter (the column type's own bind processor, or its
    ``fast_bind`` where a column type offers one; the stored values are
    exactly what SQLAlchemy would store, see tests/hub/test_store.py) are
    resolved once, into a generated function that turns a row into a tuple
    (or a dict, for named-parameter drivers) for the driver's ``executemany``.
    A column missing from a row gets its column default, as SQLAlchemy gives it.
    """

    def __init__(self, sql: str, to_parameters: Callable[[Mapping[str, Any]], Any]) -> None:
        self.sql = sql
        self.to_parameters = to_parameters

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect, *, fill: bool) -> _UpsertPlan:
        compiled = statement.compile(dialect=dialect)
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        columns = {column.name: column for column in statement.table.columns}
        namespace: dict[str, Any] = {}
        values = []
        for number, name in enumerate(names):
            bind = compiled.binds[name]
            fast = getattr(bind.type, "fast_bind", None)
            convert = (fast and fast(dialect)) or bind.type.dialect_impl(dialect).bind_processor(
                dialect
            )
            column = columns.get(name)
            if column is None or (fill and name == "source_updated_at"):
                constant = None if column is not None else bind.effective_value
                namespace[f"k{number}"] = convert(constant) if convert else constant
                values.append(f"k{number}")
                continue
            read = f"row.get({name!r})"
            default = column.default
            if default is not None and default.is_scalar:
                namespace[f"d{number}"] = default.arg
                read = f"row.get({name!r}, d{number})"
            elif default is not None and default.is_callable:
                namespace[f"d{number}"] = default.arg
                read = f"(row[{name!r}] if {name!r} in row else d{number}(None))"
            if convert is not None:
                namespace[f"c{number}"] = convert
                read = f"c{number}({read})"
            values.append(read)
        if compiled.positional:
            body = "(" + "".join(f"{value}, " for value in values) + ")"
        else:
            body = "{" + ", ".join(f"{n!r}: {v}" for n, v in zip(names, values, strict=True)) + "}"
        source = f"def to_parameters(row):\n    return {body}\n"
        exec(compile(source, f"<upsert {statement.table.name}>", "exec"), namespace)  # noqa: S102
        return cls(compiled.string, namespace["to_parameters"])


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A row ready for :meth:`Store.write`: its id, version and the driver's parameters."""

    id: str
    source_updated_at: datetime | None
    fill: bool
    parameters: Any


RowT = TypeVar("RowT", Mapping[str, Any], PreparedRow)


def latest_per_id(rows: Iterable[RowT]) -> list[RowT]:
    """One row per id: the one with the latest ``source_updated_at`` (later wins ties)."""
    chosen: dict[str, tuple[RowT, datetime | None]] = {}
    for row in rows:
        key, version = _identity(row)
        current = chosen.get(key)
        if current is None or _not_older(version, current[1]):
            chosen[key] = (row, version)
    return [row for row, _ in chosen.values()]


def _identity(row: Mapping[str, Any] | PreparedRow) -> tuple[str, datetime | None]:
    if isinstance(row, PreparedRow):
        return row.id, row.source_updated_at
    return row["id"], row.get("source_updated_at")


def _not_older(candidate: datetime | None, current: datetime | None) -> bool:
    if candidate is None or current is None:
        return True
    return candidate >= current
