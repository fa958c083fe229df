"""Run history (``sync_run``) and the quarantine of records that failed mapping.

Quarantine rows have a deterministic id (connection, stream and the record's
content), so a record that fails again after a crash and re-run is stored
once, and a replay after a mapping fix can find and resolve it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Integer, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, Text

from hub import jsontext
from hub.redaction import redact, redact_value
from hub.schema.columns import UTCDateTime
from hub.schema.models import JSONColumn


class RunStatus:
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class SyncRun(SQLModel, table=True):
    """One sync of one connection: when, how it ended, what it moved."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    connection: str = Field(index=True, max_length=100)
    tenant: str = Field(max_length=100)
    connector: str = Field(max_length=100)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(max_length=20)
    full_refresh: bool = False
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    error: str | None = Field(default=None, sa_type=Text)


class QuarantinedRecord(SQLModel, table=True):
    """A source record that could not be mapped or validated, with the reason."""

    __tablename__ = "quarantine"

    id: str = Field(primary_key=True, max_length=64)
    run_id: int = Field(index=True, sa_type=Integer)
    connection: str = Field(index=True, max_length=100)
    tenant: str = Field(max_length=100)
    source: str = Field(max_length=100)
    stream: str = Field(max_length=100)
    record: dict[str, Any] = Field(sa_type=JSONColumn)
    #: The record's primary key (JSON of its values), so that a later good
    #: version of the same record resolves this entry.
    record_key: str | None = Field(default=None, index=True, max_length=255)
    error: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_runs = SyncRun.__table__  # type: ignore[attr-defined]
_quarantine = QuarantinedRecord.__table__  # type: ignore[attr-defined]


@dataclass
class RunCounts:
    """What one run moved, per stream and per canonical entity."""

    streams: dict[str, dict[str, int]] = field(default_factory=dict)
    entities: dict[str, int] = field(default_factory=dict)

    def stream(self, name: str) -> dict[str, int]:
        return self.streams.setdefault(name, {"records": 0, "quarantined": 0})

    @property
    def records(self) -> int:
        return sum(s["records"] for s in self.streams.values())

    @property
    def quarantined(self) -> int:
        return sum(s["quarantined"] for s in self.streams.values())

    def as_json(self) -> dict[str, Any]:
        return {"streams": self.streams, "entities": self.entities}


def start_run(
    connection: Connection, *, name: str, tenant: str, connector: str, full_refresh: bool
) -> int:
    result = connection.execute(
        _runs.insert().values(
            connection=name,
            tenant=tenant,
            connector=connector,
            started_at=datetime.now(UTC),
            status=RunStatus.RUNNING,
            full_refresh=full_refresh,
            counts={},
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def close_abandoned_runs(connection: Connection, name: str) -> int:
    """Mark runs of ``name`` still 'running' as failed; call only while holding its run lock."""
    result = connection.execute(
        _runs.update()
        .where(_runs.c.connection == name, _runs.c.status == RunStatus.RUNNING)
        .values(
            status=RunStatus.FAILED,
            finished_at=datetime.now(UTC),
            error="the process running this sync stopped without finishing (killed or crashed); "
            "its last checkpoint was kept and the next run resumed from it",
        )
    )
    return result.rowcount


def update_run(connection: Connection, run_id: int, counts: RunCounts) -> None:
    connection.execute(_runs.update().where(_runs.c.id == run_id).values(counts=counts.as_json()))


def finish_run(
    connection: Connection, run_id: int, status: str, counts: RunCounts, error: str | None = None
) -> None:
    connection.execute(
        _runs.update()
        .where(_runs.c.id == run_id)
        .values(
            status=status,
            finished_at=datetime.now(UTC),
            counts=counts.as_json(),
            error=None if error is None else redact(error),
        )
    )


def list_runs(
    connection: Connection,
    *,
    name: str | None = None,
    limit: int = 20,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """The latest runs, newest first (of connection ``name``, of ``tenant``, if given)."""
    query = select(_runs).order_by(_runs.c.id.desc()).limit(limit)
    if name is not None:
        query = query.where(_runs.c.connection == name)
    if tenant is not None:
        query = query.where(_runs.c.tenant == tenant)
    return [dict(row._mapping) for row in connection.execute(query)]


def quarantine_id(name: str, stream: str, record: dict[str, Any]) -> str:
    try:
        body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # an integer beyond 64 bits: orjson refuses it, json does not
        body = jsontext.dumps(record, sort_keys=True).encode()
    return hashlib.sha256(name.encode() + b"\x1f" + stream.encode() + b"\x1f" + body).hexdigest()


@dataclass(frozen=True)
class Quarantined:
    """A record waiting in quarantine, as the runner hands it over."""

    stream: str
    record: dict[str, Any]
    error: str
    key: str | None = None


def record_key(record: dict[str, Any], primary_key: tuple[str, ...]) -> str | None:
    """The primary key of ``record`` as a short stable string (None when it has none)."""
    values = [_dotted(record, field) for field in primary_key]
    if not primary_key or all(value is None for value in values):
        return None
    try:
        return orjson.dumps(values, default=str).decode()[:255]
    except TypeError:  # an integer beyond 64 bits
        return jsontext.dumps(values)[:255]


def _dotted(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def add_to_quarantine(
    connection: Connection,
    items: Sequence[Quarantined],
    *,
    run_id: int,
    name: str,
    tenant: str,
    source: str,
) -> None:
    """Store failed records (once per content); a repeat refreshes run and reason."""
    if not items:
        return
    now = datetime.now(UTC)
    rows = {
        quarantine_id(name, item.stream, item.record): {
            "id": quarantine_id(name, item.stream, item.record),
            "run_id": run_id,
            "connection": name,
            "tenant": tenant,
            "source": source,
            "stream": item.stream,
            "record": redact_value(item.record),
            "record_key": item.key,
            "error": redact(item.error),
            "created_at": now,
            "resolved_at": None,
        }
        for item in items
    }
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(_quarantine)
    statement = statement.on_conflict_do_update(
        index_elements=[_quarantine.c.id],
        set_={
            "run_id": statement.excluded.run_id,
            "error": statement.excluded.error,
            "resolved_at": None,
        },
    )
    connection.execute(statement, list(rows.values()))


def list_quarantine(
    connection: Connection,
    *,
    name: str | None = None,
    stream: str | None = None,
    include_resolved: bool = False,
    limit: int | None = None,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """Quarantined records, oldest first; open ones only unless ``include_resolved``.

    ``tenant`` keeps the entries recorded for that tenant (the tenant of the
    connection when the record failed).
    """
    query = select(_quarantine).order_by(_quarantine.c.created_at, _quarantine.c.id)
    if name is not None:
        query = query.where(_quarantine.c.connection == name)
    if tenant is not None:
        query = query.where(_quarantine.c.tenant == tenant)
    if stream is not None:
        query = query.where(_quarantine.c.stream == stream)
    if not include_resolved:
        query = query.where(_quarantine.c.resolved_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in connection.execute(query)]


def count_quarantine(connection: Connection, name: str) -> int:
    query = (
        select(func.count())
        .select_from(_quarantine)
        .where(_quarantine.c.connection == name, _quarantine.c.resolved_at.is_(None))
    )
    return int(connection.execute(query).scalar_one())


def resolve_quarantined(connection: Connection, ids: Sequence[str]) -> None:
    if ids:
        connection.execute(
            update(_quarantine)
            .where(_quarantine.c.id.in_(list(ids)))
            .values(resolved_at=datetime.now(UTC))
        )


def resolve_by_keys(connection: Connection, name: str, stream: str, keys: Sequence[str]) -> int:
    """Resolve open entries of ``stream`` whose record has since been stored under ``keys``."""
    if not keys:
        return 0
    result = connection.execute(
        update(_quarantine)
        .where(
            _quarantine.c.connection == name,
            _quarantine.c.stream == stream,
            _quarantine.c.resolved_at.is_(None),
            _quarantine.c.record_key.in_(list(keys)),
        )
        .values(resolved_at=datetime.now(UTC))
    )
    return result.rowcount


def refresh_reason(connection: Connection, quarantine_row_id: str, error: str) -> None:
    connection.execute(
        update(_quarantine).where(_quarantine.c.id == quarantine_row_id).values(error=redact(error))
    )
