"""Read the hub's database as one tenant: its rows, runs, quarantine and cursors, nothing else.

Every participant's rows share the same tables; the envelope's ``tenant``
column (the tenant of the connection that produced the row) tells them apart.
A :class:`TenantReader` is bound to one tenant when it is made and adds that
condition to every query it runs, so a report, an export or a support script
written against it cannot show one participant another's data by forgetting a
``WHERE`` clause. ``hub rows``, ``hub runs --tenant`` and
``hub quarantine list --tenant`` are built on it.

::

    from hub.config import load_config
    from hub.reader import TenantReader
    from hub.store import Store

    hub = load_config("hub.yaml")
    store = Store(hub.database_url())
    reader = TenantReader.from_config(hub, store, "alpenglueck")

    for row in reader.rows("conversion", connection="shop", limit=100):
        print(row["order_ref"], row["amount"], row["currency"])
    reader.count("conversion_item", where={"conversion_id": some_id})
    reader.get("conversion", some_id)  # None when the id is not one of this tenant's rows
    reader.runs(limit=20)               # newest first
    reader.quarantine(stream="orders")  # open entries, oldest first
    reader.states()                     # {connection: {stream: cursor}}

What belongs to a tenant:

- **rows** of every canonical entity whose ``tenant`` column is the tenant;
- **runs** and **quarantine entries** recorded for the tenant (each stores the
  tenant its connection had when it ran, so moving a connection to another
  tenant in the config does not hand its history over);
- **cursors** (``sync_state``) of the tenant's connections: those the config
  gives to the tenant (:meth:`TenantReader.from_config`), or the names passed
  as ``connections``. Cursors carry no tenant of their own.

Filters narrow within the tenant and never widen it: asking for another
tenant's connection, source or row id gives nothing, not an error, so the
answer does not even tell whether such rows exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Table, func, select
from sqlalchemy.sql import ColumnElement, FromClause

from hub.config import HubConfig
from hub.config.problems import did_you_mean
from hub.errors import ConfigError, HubError, Problem
from hub.history import QuarantinedRecord, list_quarantine, list_runs
from hub.schema import ENTITIES
from hub.state import SyncState
from hub.store import Store

__all__ = ["TenantReader", "conversions_with_items", "describe_conversion"]

#: Rows read per query while iterating: memory stays flat on large tables.
PAGE_SIZE = 500

_quarantine: Table = QuarantinedRecord.__table__  # type: ignore[attr-defined]
_state: Table = SyncState.__table__  # type: ignore[attr-defined]


class TenantReader:
    """Read-only access to the store, scoped to the rows and history of one tenant."""

    def __init__(self, store: Store, tenant: str, *, connections: Iterable[str] = ()) -> None:
        """Bind to ``tenant``; ``connections`` are its connection names (for :meth:`states`).

        Prefer :meth:`from_config`, which checks the tenant is declared and
        takes its connections from the config.
        """
        if not isinstance(tenant, str) or not tenant:
            raise HubError(
                "a tenant reader needs a tenant name",
                hint="pass the name declared under `tenants:` in the config",
            )
        self.store = store
        self.tenant = tenant
        #: The tenant's connections, sorted: the only ones whose cursors are read.
        self.connections: tuple[str, ...] = tuple(sorted(set(connections)))

    @classmethod
    def from_config(cls, hub: HubConfig, store: Store, tenant: str) -> TenantReader:
        """A reader for ``tenant`` of ``hub``; ConfigError when the config does not declare it."""
        if tenant not in hub.tenants:
            known = sorted(hub.tenants)
            listing = ", ".join(known) if known else "(none: add one under `tenants:`)"
            raise ConfigError(
                [
                    Problem(
                        file=str(hub.path),
                        location="tenants",
                        message=f"no tenant is called {tenant!r}",
                        line=hub.line_of(("tenants",)),
                        hint=f"{did_you_mean(tenant, known)}declared tenants: {listing}",
                    )
                ]
            )
        names = [name for name, settings in hub.connections.items() if settings.tenant == tenant]
        return cls(store, tenant, connections=names)

    # -- canonical rows ------------------------------------------------------------------

    def rows(
        self,
        entity: str,
        *,
        connection: str | None = None,
        source: str | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The tenant's ``entity`` rows in id order, as column dicts, read page by page.

        ``connection`` and ``source`` keep the rows one connection or connector
        produced; ``where`` adds equality conditions on columns
        (``{"conversion_id": ...}``); ``limit`` stops after that many rows.
        """
        if limit is not None and limit < 0:
            raise HubError(f"limit must be 0 or more, not {limit}")
        table = self._table(entity)
        conditions = self._conditions(table, entity, connection, source, where)
        left = limit
        last: str | None = None
        while left is None or left > 0:
            size = PAGE_SIZE if left is None else min(PAGE_SIZE, left)
            query = select(table).where(*conditions).order_by(table.c.id).limit(size)
            if last is not None:
                query = query.where(table.c.id > last)
            with self.store.transaction() as db:
                page = [dict(row._mapping) for row in db.execute(query)]
            yield from page
            if len(page) < size:
                return
            last = page[-1]["id"]
            if left is not None:
                left -= len(page)

    def count(
        self,
        entity: str,
        *,
        connection: str | None = None,
        source: str | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> int:
        """How many ``entity`` rows the tenant has (with the same filters as :meth:`rows`)."""
        table = self._table(entity)
        conditions = self._conditions(table, entity, connection, source, where)
        query = select(func.count()).select_from(table).where(*conditions)
        with self.store.transaction() as db:
            return int(db.execute(query).scalar_one())

    def get(self, entity: str, row_id: str) -> dict[str, Any] | None:
        """The tenant's ``entity`` row with id ``row_id``; None if missing or another tenant's."""
        return next(self.rows(entity, where={"id": row_id}, limit=1), None)

    # -- operations ------------------------------------------------------------------------

    def runs(self, *, connection: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The tenant's latest sync runs, newest first (of one connection, if given)."""
        with self.store.transaction() as db:
            return list_runs(db, name=connection, limit=limit, tenant=self.tenant)

    def quarantine(
        self,
        *,
        connection: str | None = None,
        stream: str | None = None,
        include_resolved: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The tenant's quarantined records, oldest first: open ones unless ``include_resolved``."""
        with self.store.transaction() as db:
            return list_quarantine(
                db,
                name=connection,
                stream=stream,
                include_resolved=include_resolved,
                limit=limit,
                tenant=self.tenant,
            )

    def quarantine_count(self, *, connection: str | None = None, stream: str | None = None) -> int:
        """How many of the tenant's quarantined records are still open."""
        query = (
            select(func.count())
            .select_from(_quarantine)
            .where(_quarantine.c.tenant == self.tenant, _quarantine.c.resolved_at.is_(None))
        )
        if connection is not None:
            query = query.where(_quarantine.c.connection == connection)
        if stream is not None:
            query = query.where(_quarantine.c.stream == stream)
        with self.store.transaction() as db:
            return int(db.execute(query).scalar_one())

    def states(self, *, connection: str | None = None) -> dict[str, dict[str, Any]]:
        """``{connection: {stream: cursor}}`` for the tenant's connections (or one of them).

        A connection that is not the tenant's gives an empty answer; one that
        never synced is present with no streams.
        """
        names = [n for n in self.connections if connection is None or n == connection]
        found: dict[str, dict[str, Any]] = {name: {} for name in names}
        if not names:
            return found
        query = (
            select(_state.c.connection, _state.c.stream, _state.c.state)
            .where(_state.c.connection.in_(names))
            .order_by(_state.c.connection, _state.c.stream)
        )
        with self.store.transaction() as db:
            for name, stream, state in db.execute(query):
                found[name][stream] = orjson.loads(state)
        return found

    # -- helpers ---------------------------------------------------------------------------

    def _table(self, entity: str) -> Table:
        if entity not in ENTITIES:
            raise HubError(
                f"there is no entity {entity!r}",
                hint=f"{did_you_mean(entity, list(ENTITIES))}entities: {', '.join(ENTITIES)}",
            )
        return self.store.table(entity)

    def _conditions(
        self,
        table: Table,
        entity: str,
        connection: str | None,
        source: str | None,
        where: Mapping[str, Any] | None,
    ) -> list[ColumnElement[bool]]:
        # The tenant condition comes first and is always there; every other one narrows it.
        conditions: list[ColumnElement[bool]] = [table.c.tenant == self.tenant]
        if connection is not None:
            conditions.append(table.c.connection == connection)
        if source is not None:
            conditions.append(table.c.source == source)
        for column, value in (where or {}).items():
            if column not in table.c:
                columns = sorted(c.name for c in table.columns)
                raise HubError(
                    f"{entity} has no column {column!r}",
                    hint=f"{did_you_mean(column, columns)}columns of {entity}: "
                    f"{', '.join(columns)}",
                )
            target = table.c[column]
            conditions.append(target.is_(None) if value is None else target == value)
        return conditions


def conversions_with_items(
    store: Store,
    conversions: FromClause,
    where: ColumnElement[bool],
    *,
    columns: Iterable[Any] = (),
    page_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """The conversions matching ``where``, each with its ``items``, in pages by id.

    What destinations that send conversions with their lines need (Awin S2S,
    GA4 Measurement Protocol): ``conversions`` is the conversion table or an
    alias of it, ``where`` the destination's narrowing (its tenant always
    among it), ``columns`` extra labelled columns to select. Keyset pages of
    ``page_size`` keep memory flat whatever the tenant's size; items come in
    line order.
    """
    items = store.table("conversion_item")
    last = ""
    while True:
        query = (
            select(conversions, *columns)
            .where(where, conversions.c.id > last)
            .order_by(conversions.c.id)
            .limit(page_size)
        )
        with store.transaction() as connection:
            page = [dict(row._mapping) for row in connection.execute(query)]
            lines: dict[str, list[dict[str, Any]]] = {}
            if page:
                item_query = (
                    select(items)
                    .where(items.c.conversion_id.in_([row["id"] for row in page]))
                    .order_by(items.c.conversion_id, items.c.line_ref, items.c.id)
                )
                for item in connection.execute(item_query):
                    lines.setdefault(item.conversion_id, []).append(dict(item._mapping))
        for row in page:
            row["items"] = lines.get(row["id"], [])
            yield row
        if len(page) < page_size:
            return
        last = page[-1]["id"]


def describe_conversion(row: Mapping[str, Any]) -> str:
    """``conversion <id> (order <ref>)``: how messages name a conversion row."""
    ref = row.get("order_ref")
    text = f"conversion {row.get('id') or '(no id)'}"
    return f"{text} (order {ref})" if ref else text
