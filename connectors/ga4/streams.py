"""GA4 reports as streams: day windows, offset paging, values parsed by their declared type.

Each configured report is one stream. It is read in windows of
``window_days`` days, from ``start_date`` on the first sync and from
``lookback_days`` before the saved ``last_date`` afterwards (GA4 revises
recent days; the newest answer replaces the stored row). A window is paged
with ``offset``/``limit`` until ``rowCount`` rows are in, under a stable
``orderBys`` (every dimension), and ends with a checkpoint ``{"last_date"}``.

A row becomes a record ``{dimension: value, metric: value, "_hub": {...}}``:

- values by position through the headers; ``date`` (``YYYYMMDD``) becomes
  ``YYYY-MM-DD``; every other dimension is kept as GA4 sent it, ``"(not set)"``
  and ``"(other)"`` included;
- metrics parsed by their declared type: ``TYPE_INTEGER`` to ``int``,
  ``TYPE_CURRENCY`` to an exact decimal string of cents, any other type to a
  decimal string rounded to 12 significant digits, so the binary noise of
  ``"1024.7000000000001"`` never survives;
- ``_hub``: ``report``, ``key`` (the record's identity, below), ``currency``
  and ``time_zone`` from the answer's metadata, ``day_start`` (the day's
  midnight in the property's zone, as UTC) and, when the report has a
  ``transactionId``, ``transaction_key`` (the key of that purchase in the
  ``purchases`` report).

Identity: ``key`` joins the values of the report's ``key`` dimensions (all
dimensions by default). A ``"(not set)"`` or ``"(other)"`` among them is no
identity, so such rows are keyed by their day as well. Rows of one window
with the same key are merged (metrics summed, other dimensions from the row
with the largest first metric): two purchase events with one transaction id
are one purchase, as the shop sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo

from hub.connector import Checkpoint, Message, Record, Stream
from hub.errors import FatalConnectorError

from .client import GA4Client
from .settings import GA4Settings, Report

log = logging.getLogger(__name__)

HUB_KEY = "_hub"
STATE_KEY = "last_date"
SPECIAL_VALUES = frozenset({"(not set)", "(other)"})
_CENT = Decimal("0.01")
_INTEGER_TYPES = frozenset({"TYPE_INTEGER"})
_CURRENCY_TYPES = frozenset({"TYPE_CURRENCY"})


def stream_of(report: Report) -> Stream:
    """The stream a report is synced as."""
    properties: dict[str, Any] = {name: {"type": "string"} for name in report.dimensions}
    properties.update({name: {"type": ["integer", "string"]} for name in report.metrics})
    properties[HUB_KEY] = {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "report": {"type": "string"},
            "currency": {"type": ["string", "null"]},
            "time_zone": {"type": "string"},
            "day_start": {"type": "string", "format": "date-time"},
        },
    }
    return Stream(
        name=report.name,
        primary_key=(f"{HUB_KEY}.key",),
        cursor_field="date",
        json_schema={"type": "object", "properties": properties},
        description=f"runReport by day: {', '.join(report.dimensions)} -> "
        f"{', '.join(report.metrics)}",
    )


def report_body(report: Report, start: date, end: date, offset: int, limit: int) -> dict[str, Any]:
    """The ``runReport`` body of one page of one window (stable order: every dimension)."""
    return {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": name} for name in report.dimensions],
        "metrics": [{"name": name} for name in report.metrics],
        "orderBys": [
            {"dimension": {"dimensionName": name, "orderType": "ALPHANUMERIC"}}
            for name in report.dimensions
        ],
        "offset": str(offset),
        "limit": str(limit),
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


def plan_days(since: date, today: date, window_days: int) -> Iterator[tuple[date, date]]:
    """Windows ``[start, end]`` of at most ``window_days`` days from ``since`` to ``today``."""
    start = since
    while start <= today:
        end = min(start + timedelta(days=window_days - 1), today)
        yield start, end
        start = end + timedelta(days=1)


def read_report(
    client: GA4Client,
    settings: GA4Settings,
    report: Report,
    state: Mapping[str, Any],
    now: datetime,
) -> Iterator[Message]:
    """The report's records since the saved ``last_date`` minus the lookback; see the module."""
    today = now.astimezone(settings.zone).date()
    last = _saved_date(state, report.name)
    since = settings.start_date
    if last is not None:
        since = max(settings.start_date, last - timedelta(days=settings.lookback_days))
    for start, end in plan_days(since, today, settings.window_days):
        yield from (
            Record(report.name, r) for r in read_window(client, settings, report, start, end)
        )
        done = end if last is None else max(last, end)
        yield Checkpoint(report.name, {STATE_KEY: done.isoformat()})


def read_window(
    client: GA4Client, settings: GA4Settings, report: Report, start: date, end: date
) -> list[dict[str, Any]]:
    """Every row of the report for ``[start, end]``, as merged records."""
    merged: dict[str, dict[str, Any]] = {}
    offset = 0
    zone_warned = False
    while True:
        answer = client.run_report(report_body(report, start, end, offset, settings.page_size))
        metadata = answer.get("metadata") or {}
        time_zone = str(metadata.get("timeZone") or settings.timezone)
        if time_zone != settings.timezone and not zone_warned:
            log.warning(
                "GA4 reports in %s but the connection says timezone %s; days are %s days",
                time_zone,
                settings.timezone,
                time_zone,
            )
            zone_warned = True
        rows = answer.get("rows") or []
        dimensions = [h.get("name") for h in answer.get("dimensionHeaders") or []]
        metrics = [(h.get("name"), h.get("type")) for h in answer.get("metricHeaders") or []]
        answered = dimensions + [m for m, _ in metrics]
        if rows and answered != report.dimensions + report.metrics:
            raise FatalConnectorError(
                f"report {report.name!r}: GA4 answered the columns {answered} for the "
                f"requested {report.dimensions + report.metrics}",
                hint="check base_url: the Data API answers the columns it was asked for",
            )
        context = {
            "currency": metadata.get("currencyCode"),
            "time_zone": time_zone,
        }
        for row in rows:
            record = row_record(row, report, metrics, context)
            key = record[HUB_KEY]["key"]
            merged[key] = _merge(merged[key], record, report) if key in merged else record
        offset += len(rows)
        total = int(answer.get("rowCount") or 0)
        if not rows or offset >= total:
            return list(merged.values())


def row_record(
    row: Mapping[str, Any],
    report: Report,
    metrics: list[tuple[Any, Any]],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """One row of an answer as a record (see the module docstring)."""
    dimension_values = [v.get("value") for v in row.get("dimensionValues") or []]
    metric_values = [v.get("value") for v in row.get("metricValues") or []]
    if len(dimension_values) != len(report.dimensions) or len(metric_values) != len(metrics):
        raise FatalConnectorError(
            f"report {report.name!r}: a row has {len(dimension_values)} dimension and "
            f"{len(metric_values)} metric values for {len(report.dimensions)} and {len(metrics)} "
            "headers"
        )
    record: dict[str, Any] = {}
    for name, value in zip(report.dimensions, dimension_values, strict=True):
        record[name] = parse_date(value) if name == "date" else ("" if value is None else value)
    for (name, kind), value in zip(metrics, metric_values, strict=True):
        record[str(name)] = parse_metric(value, str(kind or ""), str(name))
    day = date.fromisoformat(record["date"])
    zone = ZoneInfo(str(context["time_zone"]))
    hub: dict[str, Any] = {
        "report": report.name,
        "key": record_key(record, report.key or report.dimensions),
        "currency": context.get("currency"),
        "time_zone": context["time_zone"],
        "day_start": datetime.combine(day, time(), zone).astimezone(UTC).isoformat(),
    }
    if "transactionId" in record:
        hub["transaction_key"] = record_key(record, ["transactionId"])
    record[HUB_KEY] = hub
    return record


def record_key(record: Mapping[str, Any], names: list[str]) -> str:
    """The values of ``names`` joined by ``|``; special values bring the day along."""
    values = [str(record[name]) for name in names]
    if "date" not in names and any(value in SPECIAL_VALUES for value in values):
        values.insert(0, str(record["date"]))
    return "|".join(values)


def parse_date(value: Any) -> str:
    """GA4's ``YYYYMMDD`` as ``YYYY-MM-DD``."""
    text = str(value or "")
    try:
        return datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        raise FatalConnectorError(f"GA4 answered the date {text!r}, not YYYYMMDD") from None


def parse_metric(value: Any, kind: str, name: str) -> int | str:
    """A metric string by its declared type: int, or an exact decimal string."""
    text = "0" if value in (None, "") else str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise FatalConnectorError(f"GA4 answered {name} = {text!r}, not a number") from None
    if not number.is_finite():
        raise FatalConnectorError(f"GA4 answered {name} = {text!r}, not a finite number")
    if kind in _INTEGER_TYPES:
        if number != number.to_integral_value():
            raise FatalConnectorError(f"GA4 answered the integer {name} = {text!r}")
        return int(number)
    with localcontext() as context:
        context.prec = 12  # drops the noise of the shortest double repr (17 digits)
        number = +number
    if kind in _CURRENCY_TYPES:
        number = number.quantize(_CENT)
    return format(number.normalize() if kind not in _CURRENCY_TYPES else number, "f")


def _merge(first: dict[str, Any], other: dict[str, Any], report: Report) -> dict[str, Any]:
    """Two rows with one key: metrics summed; the other dimensions of the bigger row."""
    lead = report.metrics[0]
    bigger = other if Decimal(str(other[lead])) > Decimal(str(first[lead])) else first
    merged = dict(bigger)
    for name in report.metrics:
        a, b = first[name], other[name]
        if isinstance(a, int) and isinstance(b, int):
            merged[name] = a + b
        else:
            merged[name] = format(Decimal(str(a)) + Decimal(str(b)), "f")
    merged[HUB_KEY] = dict(first[HUB_KEY])
    return merged


def _saved_date(state: Mapping[str, Any], stream: str) -> date | None:
    value = state.get(STATE_KEY)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FatalConnectorError(
            f"the saved state of stream {stream!r} holds {value!r}, not a date",
            hint=f"reset it: hub state reset <connection> --stream {stream}",
        ) from None
