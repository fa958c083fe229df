"""Per-(connection, stream) cursors, written in the same transaction as the rows they cover."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, Text

from hub.schema.columns import UTCDateTime


class SyncState(SQLModel, table=True):
    """The last committed checkpoint of one stream of one connection."""

    __tablename__ = "sync_state"

    connection: str = Field(primary_key=True, max_length=100)
    stream: str = Field(primary_key=True, max_length=100)
    state: str = Field(sa_type=Text)  # JSON, exactly as the connector checkpointed it
    updated_at: datetime = Field(sa_type=UTCDateTime)


_table = SyncState.__table__  # type: ignore[attr-defined]


def load_state(connection: Connection, name: str) -> dict[str, dict[str, Any]]:
    """Every stream's state of connection ``name`` (empty for a first sync)."""
    rows = connection.execute(
        select(_table.c.stream, _table.c.state).where(_table.c.connection == name)
    )
    return {stream: orjson.loads(state) for stream, state in rows}


def save_state(connection: Connection, name: str, stream: str, state: dict[str, Any]) -> None:
    """Write one stream's checkpoint (inside the caller's transaction)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    values = {
        "connection": name,
        "stream": stream,
        "state": orjson.dumps(state, default=str).decode(),
        "updated_at": datetime.now(UTC),
    }
    statement = insert(_table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[_table.c.connection, _table.c.stream],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )
    connection.execute(statement)


def reset_state(connection: Connection, name: str, streams: Sequence[str] | None = None) -> int:
    """Forget the cursors of ``name`` (all streams, or only ``streams``); returns rows removed."""
    statement = delete(_table).where(_table.c.connection == name)
    if streams:
        statement = statement.where(_table.c.stream.in_(list(streams)))
    return connection.execute(statement).rowcount
