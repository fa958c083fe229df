"""``runReport`` without HTTP: check a request body, group the data, order and page the rows.

:func:`parse` turns a RunReportRequest body (apis.md 3.3) into a
:class:`Request` or raises :class:`ReportError` with GA4's status and a
message in GA4's words (apis.md 3.7); :func:`run` computes the whole report
(every row, ordered) from :class:`~.data.GA4Data` as of the sandbox's
``end`` date and revision count; :func:`page` renders one page as GA4's JSON
(apis.md 3.4), proto3 defaults left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .data import NOT_SET, GA4Data, float_sum, render_currency

MAX_LIMIT = 250_000
DEFAULT_LIMIT = 10_000
MAX_DIMENSIONS = 9  # [B] apis.md 3.3
MAX_METRICS = 10  # [B] apis.md 3.3
SCHEMA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
COMPATIBILITY_URL = "https://ga-dev-tools.google/ga4/dimensions-metrics-explorer/"

#: dimension name -> scope ("item" dimensions only go with item metrics)
DIMENSIONS = {
    "date": "event",
    "sessionSource": "session",
    "sessionMedium": "session",
    "sessionCampaignName": "session",
    "sessionManualAdContent": "session",
    "deviceCategory": "event",
    "country": "event",
    "countryId": "event",
    "transactionId": "event",
    "itemId": "item",
    "itemName": "item",
    "itemCategory": "item",
}
#: metric name -> (MetricType, scope)
METRICS = {
    "sessions": ("TYPE_INTEGER", "session"),
    "ecommercePurchases": ("TYPE_INTEGER", "event"),
    "transactions": ("TYPE_INTEGER", "event"),
    "purchaseRevenue": ("TYPE_CURRENCY", "event"),
    "totalRevenue": ("TYPE_CURRENCY", "event"),
    "itemRevenue": ("TYPE_CURRENCY", "item"),
    "itemsPurchased": ("TYPE_INTEGER", "item"),
}
ORDER_TYPES = ("ORDER_TYPE_UNSPECIFIED", "ALPHANUMERIC", "CASE_INSENSITIVE_ALPHANUMERIC", "NUMERIC")
#: RunReportRequest fields the sandbox reads
_KNOWN = {
    "property",
    "dateRanges",
    "dimensions",
    "metrics",
    "orderBys",
    "offset",
    "limit",
    "keepEmptyRows",
    "returnPropertyQuota",
    "currencyCode",
}
#: RunReportRequest fields GA4 has and the sandbox does not implement (400 rather than ignored)
_NOT_IMPLEMENTED = {
    "dimensionFilter",
    "metricFilter",
    "metricAggregations",
    "cohortSpec",
    "comparisons",
}
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(Exception):
    """A request GA4 refuses: HTTP status, google.rpc status name and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _invalid(message: str) -> ReportError:
    return ReportError(400, "INVALID_ARGUMENT", message)


@dataclass(frozen=True)
class OrderBy:
    #: "dimension" or "metric"
    kind: str
    name: str
    desc: bool
    order_type: str = "ALPHANUMERIC"


@dataclass(frozen=True)
class Request:
    """A checked RunReportRequest."""

    start: date
    end: date
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    order_bys: tuple[OrderBy, ...]
    offset: int
    limit: int
    keep_empty_rows: bool
    return_property_quota: bool


@dataclass
class _Totals:
    """The metrics of one row while it is being summed (money as cents, summed as floats later)."""

    sessions: int = 0
    purchases: int = 0
    transactions: int = 0
    revenue: list[int] = field(default_factory=list)
    items: int = 0
    item_revenue: list[int] = field(default_factory=list)

    def values(self, metrics: tuple[str, ...]) -> list[int | float]:
        out: list[int | float] = []
        for name in metrics:
            if name == "sessions":
                out.append(self.sessions)
            elif name == "ecommercePurchases":
                out.append(self.purchases)
            elif name == "transactions":
                out.append(self.transactions)
            elif name in ("purchaseRevenue", "totalRevenue"):
                out.append(float_sum(self.revenue))
            elif name == "itemRevenue":
                out.append(float_sum(self.item_revenue))
            else:  # itemsPurchased
                out.append(self.items)
        return out


@dataclass(frozen=True)
class Row:
    dimensions: tuple[str, ...]
    #: ints for TYPE_INTEGER, floats (sums of cents / 100) for TYPE_CURRENCY
    metrics: tuple[int | float, ...]


# ---------------------------------------------------------------------------- parsing


def parse(body: Any, today: date) -> Request:
    """Check a RunReportRequest body; ``today`` is the property's current date."""
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received. Expected an object (RunReportRequest).")
    for key in body:
        if key in _NOT_IMPLEMENTED:
            raise _invalid(
                f"The GA4 sandbox does not implement {key!r}; remove it from the request "
                "(the real API supports it)."
            )
        if key not in _KNOWN:
            raise _invalid(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    start, end = _date_range(body.get("dateRanges"), today)
    dimensions = _names(body.get("dimensions"), "dimensions", "dimension", DIMENSIONS)
    metrics = _names(body.get("metrics"), "metrics", "metric", METRICS)
    if len(dimensions) > MAX_DIMENSIONS:
        raise _invalid(
            f"Requests can have at most {MAX_DIMENSIONS} dimensions; "
            f"this one has {len(dimensions)}."
        )
    if len(metrics) > MAX_METRICS:
        raise _invalid(
            f"Requests can have at most {MAX_METRICS} metrics; this one has {len(metrics)}."
        )
    if not dimensions and not metrics:
        raise _invalid("A request must have at least one dimension or metric.")
    _check_compatible(dimensions, metrics)
    currency = body.get("currencyCode")
    if currency not in (None, "", "EUR"):
        raise _invalid(
            f"The GA4 sandbox reports in the property currency EUR only, not {currency!r}; "
            "leave currencyCode out."
        )
    offset = _int64(body.get("offset"), "offset")
    limit = _int64(body.get("limit"), "limit")
    if offset < 0:
        raise _invalid(f"offset must be non-negative, not {offset}.")
    if limit < 0:
        raise _invalid(f"limit must be positive, not {limit}.")
    if limit > MAX_LIMIT:
        raise _invalid(f"limit {limit} is too large; the maximum is {MAX_LIMIT}.")
    return Request(
        start,
        end,
        dimensions,
        metrics,
        _order_bys(body.get("orderBys"), dimensions, metrics),
        offset,
        limit or DEFAULT_LIMIT,  # proto3: 0 is "not set"
        _bool(body.get("keepEmptyRows"), "keepEmptyRows"),
        _bool(body.get("returnPropertyQuota"), "returnPropertyQuota"),
    )


def resolve_date(value: Any, today: date) -> date:
    """``YYYY-MM-DD``, ``today``, ``yesterday`` or ``NdaysAgo`` as a date (apis.md 3.3)."""
    if isinstance(value, str):
        if value == "today":
            return today
        if value == "yesterday":
            return today - timedelta(days=1)
        match = _DAYS_AGO.match(value)
        if match:
            return today - timedelta(days=int(match.group(1)))
        if _ISO_DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    raise _invalid(
        f"Invalid date: {value!r}. Dates must be YYYY-MM-DD, NdaysAgo, yesterday, or today."
    )


def _date_range(ranges: Any, today: date) -> tuple[date, date]:
    if not ranges:
        raise _invalid("Requests must have at least one date range in dateRanges.")
    if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
        raise _invalid("dateRanges must be a list of {startDate, endDate} objects.")
    if len(ranges) > 1:
        raise _invalid(
            "The GA4 sandbox serves one date range per request; send one range per request."
        )
    one = ranges[0]
    for key in ("startDate", "endDate"):
        if not one.get(key):
            raise _invalid(f"dateRanges[0].{key} is required.")
    start = resolve_date(one["startDate"], today)
    end = resolve_date(one["endDate"], today)
    if start > end:
        raise _invalid(
            f"Invalid date range: startDate {one['startDate']} is after endDate {one['endDate']}."
        )
    return start, end


def _names(items: Any, field_name: str, kind: str, known: dict[str, Any]) -> tuple[str, ...]:
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _invalid(f"{field_name} must be a list of {{name}} objects.")
    names: list[str] = []
    for item in items:
        name = item.get("name")
        if "expression" in item or "dimensionExpression" in item:
            raise _invalid(
                f"The GA4 sandbox does not implement expressions in {field_name}; use plain names."
            )
        if not isinstance(name, str) or name not in known:
            raise _invalid(
                f"Field {name} is not a valid {kind}. For a list of valid dimensions and "
                f"metrics, see {SCHEMA_URL}"
            )
        if name in names:
            raise _invalid(f"Duplicate {kind} name: {name}. Each {kind} can be requested once.")
        names.append(name)
    return tuple(names)


def _check_compatible(dimensions: tuple[str, ...], metrics: tuple[str, ...]) -> None:
    """Item-scoped fields (apis.md 3.8) only go with item metrics; GA4 refuses the mix [B]."""
    item_fields = [d for d in dimensions if DIMENSIONS[d] == "item"]
    item_fields += [m for m in metrics if METRICS[m][1] == "item"]
    others = [m for m in metrics if METRICS[m][1] != "item"]
    if item_fields and others:
        raise _invalid(
            f"Please remove {', '.join(others)} to make the request compatible. The request's "
            f"dimensions & metrics are incompatible (item-scoped: {', '.join(item_fields)}). "
            f"To learn more, see {COMPATIBILITY_URL}"
        )


def _int64(value: Any, name: str) -> int:
    """An int64 field: a JSON number or a decimal string (protobuf JSON); absent is 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _invalid(f"Invalid value at '{name}' (TYPE_INT64), {str(value).lower()}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise _invalid(f"Invalid value at '{name}' (TYPE_INT64), {value!r}")


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(f"Invalid value at '{name}' (TYPE_BOOL), {value!r}")
    return value


def _order_bys(
    items: Any, dimensions: tuple[str, ...], metrics: tuple[str, ...]
) -> tuple[OrderBy, ...]:
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _invalid("orderBys must be a list of OrderBy objects.")
    out = []
    for item in items:
        desc = _bool(item.get("desc"), "orderBys.desc")
        if isinstance(item.get("dimension"), dict):
            name = item["dimension"].get("dimensionName")
            order_type = item["dimension"].get("orderType") or "ALPHANUMERIC"
            if order_type not in ORDER_TYPES:
                raise _invalid(f"Invalid value at 'orderBys.dimension.orderType', {order_type!r}")
            if name not in dimensions:
                raise _invalid(
                    f"Dimension {name} in orderBys must also be in the request's dimensions."
                )
            if order_type == "ORDER_TYPE_UNSPECIFIED":
                order_type = "ALPHANUMERIC"
            out.append(OrderBy("dimension", name, desc, order_type))
        elif isinstance(item.get("metric"), dict):
            name = item["metric"].get("metricName")
            if name not in metrics:
                raise _invalid(f"Metric {name} in orderBys must also be in the request's metrics.")
            out.append(OrderBy("metric", name, desc))
        else:
            raise _invalid(
                "Each orderBys entry needs dimension {dimensionName} or metric {metricName}; "
                "the GA4 sandbox does not implement pivot orderings."
            )
    return tuple(out)


# ---------------------------------------------------------------------------- the report


def facts(
    data: GA4Data,
    request: Request,
    *,
    first: date,
    end: date,
    revision: int,
) -> Iterator[tuple[dict[str, str], _Totals]]:
    """The report's smallest pieces, in the data's fixed order: dimension values and metrics.

    Event/session reports yield one piece per cell; with ``transactionId``, a
    cell's sessions and its purchases sent without an id fall under
    ``"(not set)"`` (every session has events without a transaction id) and
    each purchase with an id is its own piece with one session [B]. Item
    reports yield one piece per purchased item. Days outside ``[first, end]``
    (the data's first day and the sandbox's "today") have no data.
    """
    item_scope = any(DIMENSIONS[d] == "item" for d in request.dimensions) or any(
        METRICS[m][1] == "item" for m in request.metrics
    )
    by_transaction = "transactionId" in request.dimensions
    day = max(request.start, first)
    last = min(request.end, end)
    while day <= last:
        age = (end - day).days + revision
        for cell in data.day(data.index(day)):
            seen = data.visible(cell, age)
            base = {
                "date": day.strftime("%Y%m%d"),
                "sessionSource": cell.channel.source,
                "sessionMedium": cell.channel.medium,
                "sessionCampaignName": cell.channel.campaign,
                "sessionManualAdContent": cell.channel.ad_content,
                "deviceCategory": cell.device,
                "country": cell.country,
                "countryId": cell.country_id,
            }
            if item_scope:
                for p in seen.purchases:
                    for item in p.items:
                        values = {
                            **base,
                            "transactionId": p.transaction_id,
                            "itemId": item.item_id,
                            "itemName": item.name,
                            "itemCategory": item.category,
                        }
                        yield (
                            values,
                            _Totals(items=item.quantity, item_revenue=[item.revenue_cents]),
                        )
            elif by_transaction:
                untagged = [p for p in seen.purchases if p.transaction_id == NOT_SET]
                yield (
                    {**base, "transactionId": NOT_SET},
                    _Totals(
                        sessions=seen.sessions,
                        purchases=len(untagged),
                        transactions=sum(1 for p in untagged if p.value_cents > 0),
                        revenue=[p.value_cents for p in untagged],
                    ),
                )
                for p in seen.purchases:
                    if p.transaction_id != NOT_SET:
                        yield (
                            {**base, "transactionId": p.transaction_id},
                            _Totals(
                                sessions=1,
                                purchases=1,
                                transactions=int(p.value_cents > 0),
                                revenue=[p.value_cents],
                            ),
                        )
            else:
                yield (
                    base,
                    _Totals(
                        sessions=seen.sessions,
                        purchases=len(seen.purchases),
                        transactions=sum(1 for p in seen.purchases if p.value_cents > 0),
                        revenue=[p.value_cents for p in seen.purchases],
                    ),
                )
        day += timedelta(days=1)


def run(data: GA4Data, request: Request, *, first: date, end: date, revision: int) -> list[Row]:
    """Every row of the report, grouped by the requested dimensions and ordered."""
    groups: dict[tuple[str, ...], _Totals] = {}
    for values, piece in facts(data, request, first=first, end=end, revision=revision):
        key = tuple(values[d] for d in request.dimensions)
        total = groups.get(key)
        if total is None:
            total = groups[key] = _Totals()
        total.sessions += piece.sessions
        total.purchases += piece.purchases
        total.transactions += piece.transactions
        total.revenue.extend(piece.revenue)
        total.items += piece.items
        total.item_revenue.extend(piece.item_revenue)
    rows = [Row(key, tuple(t.values(request.metrics))) for key, t in groups.items()]
    if not request.keep_empty_rows and request.metrics:
        rows = [r for r in rows if any(v != 0 for v in r.metrics)]
    return order(rows, request)


def order(rows: list[Row], request: Request) -> list[Row]:
    """Apply ``orderBys``; ties (and everything without them) fall back to a fixed order.

    Without ``orderBys`` the first metric, descending, comes first [B: GA4's
    default order is not documented]. Remaining ties are broken by the
    dimension values in request order, ascending, so pages never overlap.
    """
    rows = sorted(rows, key=lambda r: r.dimensions)
    order_bys = request.order_bys
    if not order_bys and request.metrics:
        order_bys = (OrderBy("metric", request.metrics[0], True),)
    for spec in reversed(order_bys):
        rows.sort(key=_sort_key(spec, request), reverse=spec.desc)
    return rows


def _sort_key(spec: OrderBy, request: Request) -> Callable[[Row], Any]:
    if spec.kind == "metric":
        i = request.metrics.index(spec.name)
        return lambda r: r.metrics[i]
    j = request.dimensions.index(spec.name)
    if spec.order_type == "CASE_INSENSITIVE_ALPHANUMERIC":
        return lambda r: r.dimensions[j].casefold()
    if spec.order_type == "NUMERIC":
        # [B] values that are not numbers ("(not set)") sort before all numbers
        def numeric(r: Row) -> tuple[int, float]:
            try:
                return (1, float(r.dimensions[j]))
            except ValueError:
                return (0, 0.0)

        return numeric
    return lambda r: r.dimensions[j]


def render_metric(value: int | float, metric: str) -> str:
    """A metric value as GA4's string: ``"88"``, ``"241.3"``, ``"96"``, ``"0"``."""
    if METRICS[metric][0] == "TYPE_CURRENCY":
        return render_currency(float(value))
    return str(int(value))


def page(
    rows: list[Row],
    request: Request,
    *,
    max_page_rows: int | None,
    time_zone: str,
    currency: str,
    quota: dict[str, Any] | None,
) -> dict[str, Any]:
    """One page of the report as GA4's JSON, proto3 defaults (empty lists, 0) left out."""
    size = request.limit if max_page_rows is None else min(request.limit, max_page_rows)
    chosen = rows[request.offset : request.offset + size]
    body: dict[str, Any] = {}
    if request.dimensions:
        body["dimensionHeaders"] = [{"name": d} for d in request.dimensions]
    if request.metrics:
        body["metricHeaders"] = [{"name": m, "type": METRICS[m][0]} for m in request.metrics]
    if chosen:
        body["rows"] = [_render_row(r, request) for r in chosen]
    if rows:
        body["rowCount"] = len(rows)
    body["metadata"] = {"currencyCode": currency, "timeZone": time_zone}
    if quota is not None:
        body["propertyQuota"] = quota
    body["kind"] = "analyticsData#runReport"
    return body


def _render_row(row: Row, request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if row.dimensions:
        out["dimensionValues"] = [{"value": v} for v in row.dimensions]
    if row.metrics:
        out["metricValues"] = [
            {"value": render_metric(v, m)}
            for v, m in zip(row.metrics, request.metrics, strict=True)
        ]
    return out


def cost(row_count: int) -> int:
    """Quota tokens a request costs [B]: GA4 charges more for bigger reports; most cost < 10."""
    return 1 + row_count // 1000
