"""Reading one REST stream: page through it, track the cursor, checkpoint safely."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.connector import Checkpoint, Message, Record
from hub.errors import FatalConnectorError
from hub.http import HttpClient
from hub.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    Paginator,
    SinglePagePaginator,
    lookup,
)

from .settings import RestStreamSettings


def paginator_for(settings: RestStreamSettings) -> Paginator:
    path = settings.records_path
    match settings.pagination:
        case "link":
            return LinkHeaderPaginator(records_path=path)
        case "cursor":
            return CursorPaginator(
                settings.next_cursor_path, settings.next_cursor_param, records_path=path
            )
        case "offset":
            return OffsetPaginator(
                settings.page_size,
                offset_param=settings.offset_param,
                limit_param=settings.page_size_param,
                records_path=path,
            )
    return SinglePagePaginator(records_path=path)


def cursor_key(value: Any) -> tuple[int, Any]:
    """Order cursor values as instants, then numbers, then text."""
    if isinstance(value, str):
        try:
            return (0, datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            pass
        try:
            return (1, Decimal(value))
        except InvalidOperation:
            return (2, value)
    if isinstance(value, int | float | Decimal):
        return (1, Decimal(str(value)))
    return (2, str(value))


def read_stream(
    client: HttpClient,
    name: str,
    settings: RestStreamSettings,
    state: Mapping[str, Any] | None,
    start_cursor: str | None,
) -> Iterator[Message]:
    """Yield the stream's records with a checkpoint after every page.

    The checkpointed cursor only moves past records already yielded: after each
    page when the API sorts by cursor, else at the end of the stream (not when
    paging stopped at an empty page the API said was not the last). A re-run
    after a crash asks again from that cursor (inclusive), and the store's
    idempotent upserts absorb what is read twice.
    """
    saved = (state or {}).get("cursor", start_cursor)
    params: dict[str, Any] = dict(settings.params)
    if settings.pagination in ("link", "cursor"):
        params[settings.page_size_param] = settings.page_size
    if settings.cursor_param and saved is not None:
        params[settings.cursor_param] = saved
    newest = saved
    for page in paginator_for(settings).pages(client, "GET", settings.path, params=params):
        records = page.records()
        for record in records:
            if not isinstance(record, dict):
                raise FatalConnectorError(
                    f"stream {name!r}: expected JSON objects at "
                    f"{settings.records_path or 'the body'}, got {type(record).__name__}",
                    hint="set records_path to the list of records in the response",
                )
            if settings.primary_key not in record:
                raise FatalConnectorError(
                    f"stream {name!r}: a record has no primary key field {settings.primary_key!r}",
                    hint="set primary_key to the field that identifies a record",
                )
            if settings.cursor_field is not None:
                value = lookup(record, settings.cursor_field)
                if value is not None and (newest is None or cursor_key(value) > cursor_key(newest)):
                    newest = value
            yield Record(name, record)
        # A stream cut short by an empty page may hold older records further on.
        finished = page.is_last and not page.cut_short
        committed = newest if settings.sorted_by_cursor or finished else saved
        yield Checkpoint(name, {} if committed is None else {"cursor": committed})
