"""The Awin streams: transactions, partners (the other side) and commission groups.

**Transactions** have no pagination and no cursor: a request returns every
transaction of one date window (at most 31 days), in no particular order
(apis.md §2.3, §2.7). So the stream reads consecutive windows of
``window_days`` from ``max(start_date, saved window_end - lookback_days)`` up
to now, and after each window checkpoints ``{"window_end": <the window's end,
ISO 8601 UTC>}``: the end of the last window read completely. Re-reading the
lookback on every run picks up later status changes (pending -> approved or
declined) and amendments of recent transactions; with ``poll_status_changes``,
an incremental run also asks for the transactions *validated* and *amended*
since the last run (``dateType=validation`` / ``amendment``, from one day
before the saved window end), so a transaction approved after the lookback has
passed is caught too. Those polls run before the transaction windows, so the
saved window end only moves once they are done.

Windows are built on the wall clock of the configured ``timezone`` (Awin
interprets ``startDate``/``endDate`` there), so a daylight-saving change never
makes a window longer than 31 days. Consecutive windows share their boundary
second (``endDate`` is inclusive): a transaction on it comes twice, which is
harmless because a transaction is stored once per id.

Awin writes every date **without an offset, in the requested time zone**. The
stream rewrites ``clickDate``, ``transactionDate`` and ``validationDate`` as
ISO 8601 UTC with ``+00:00`` (the mapping cannot read the connection's
settings), and keeps the zone it converted from in ``_hub.timezone``. Other
values the connector computes are under ``_hub`` as well: the distinct
commission groups of a transaction (``_hub.commission_groups``, for the
``offer`` reference rows), the canonical partner kind, and commission rules
with exact decimal text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hub.connector import Checkpoint, Message, Record, Stream
from hub.errors import FatalConnectorError

from .client import AwinClient
from .settings import AwinSettings

log = logging.getLogger("connectors.awin")

HUB_KEY = "_hub"
STATE_KEY = "window_end"
#: Awin's date format for filters and responses (no offset).
AWIN_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: Transaction fields holding Awin datetimes (local time of the requested zone).
DATE_FIELDS = ("clickDate", "transactionDate", "validationDate")
#: How far before the saved window end the validation/amendment polls start.
STATUS_POLL_OVERLAP = timedelta(days=1)

_TEXT = {"type": ["string", "null"]}
_INT = {"type": ["integer", "null"]}
_AMOUNT = {
    "type": ["object", "null"],
    "properties": {"amount": {"type": ["number", "null"]}, "currency": _TEXT},
}
_INSTANT = {"type": ["string", "null"], "format": "date-time"}
_ARRAY = {"type": ["array", "null"], "items": {"type": "object"}}

TRANSACTIONS = Stream(
    name="transactions",
    primary_key=("id",),
    cursor_field="transactionDate",
    json_schema={
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "advertiserId": _INT,
            "publisherId": _INT,
            "siteName": _TEXT,
            "url": _TEXT,
            "commissionStatus": _TEXT,
            "commissionAmount": _AMOUNT,
            "saleAmount": _AMOUNT,
            "oldSaleAmount": _AMOUNT,
            "oldCommissionAmount": _AMOUNT,
            "amended": {"type": ["boolean", "null"]},
            "amendReason": _TEXT,
            "declineReason": _TEXT,
            "customerCountry": _TEXT,
            "clickRefs": {"type": ["object", "null"]},
            "clickDate": _INSTANT,
            "transactionDate": _INSTANT,
            "validationDate": _INSTANT,
            "voucherCode": _TEXT,
            "orderRef": _TEXT,
            "transactionDevice": _TEXT,
            "clickDevice": _TEXT,
            "transactionParts": _ARRAY,
            "basketProducts": _ARRAY,
            HUB_KEY: {
                "type": "object",
                "properties": {
                    "timezone": {"type": "string"},
                    "commission_groups": _ARRAY,
                },
            },
        },
    },
    description="Transactions (showBasketProducts=true) read in date windows with a status "
    "lookback; dates converted to UTC",
)
PARTNERS = Stream(
    name="partners",
    primary_key=("id",),
    json_schema={
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "name": _TEXT,
            "primaryRegion": {"type": ["object", "null"]},
            HUB_KEY: {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "categories": {"type": "array"}},
            },
        },
    },
    description="The other side: publishers of an advertiser (GET /advertisers/{id}/publishers) "
    "or joined programmes of a publisher (GET /publishers/{id}/programmes)",
)
COMMISSION_GROUPS = Stream(
    name="commission_groups",
    primary_key=("groupId",),
    json_schema={
        "type": "object",
        "required": ["groupId"],
        "properties": {
            "groupId": {"type": "integer"},
            "groupCode": _TEXT,
            "groupName": _TEXT,
            "type": _TEXT,
            "advertiserId": _INT,
            HUB_KEY: {"type": "object", "properties": {"commission_rules": _ARRAY}},
        },
    },
    description="Commission groups of every joined programme (publisher accounts only: Awin "
    "documents no advertiser endpoint; advertisers get them from transactions)",
)

# --------------------------------------------------------------------------- dates


def format_awin(moment: datetime) -> str:
    """A naive wall-clock datetime as Awin writes it: ``2025-03-01T00:00:00``."""
    return moment.strftime(AWIN_FORMAT)


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time of ``zone`` as an aware UTC instant.

    In the repeated hour of a daylight-saving change the first occurrence
    (``fold=0``) is taken: Awin's offset-less dates cannot say which it was.
    """
    return local.replace(tzinfo=zone).astimezone(UTC)


def awin_date_to_utc(value: Any, zone: ZoneInfo) -> Any:
    """``"2025-03-10T18:09:00"`` (in ``zone``) as ``"2025-03-10T17:09:00+00:00"``.

    Values that already carry an offset are converted too; anything that is
    not a readable date is returned unchanged (the mapping then reports it).
    """
    if not isinstance(value, str) or not value.strip():
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return local_to_utc(parsed, zone).isoformat()
    return parsed.astimezone(UTC).isoformat()


def plan_windows(
    since: datetime, until: datetime, zone: ZoneInfo, days: int
) -> list[tuple[datetime, datetime]]:
    """Consecutive windows ``(start, end)`` of at most ``days`` days covering since..until.

    ``since`` and ``until`` are aware instants; the windows are naive wall-clock
    times of ``zone`` (what Awin's filters mean), whole seconds. There is
    always at least one window, so every run ends with a checkpoint.
    """
    start = since.astimezone(zone).replace(tzinfo=None, microsecond=0)
    end = until.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if end <= start:
        return [(start, start)]
    windows = []
    while start < end:
        stop = min(start + timedelta(days=days), end)
        windows.append((start, stop))
        start = stop
    return windows


def parse_state(state: Mapping[str, Any], stream: str) -> datetime | None:
    """The saved ``window_end`` as an aware instant, None when there is none."""
    saved = state.get(STATE_KEY)
    if saved is None:
        return None
    try:
        instant = datetime.fromisoformat(str(saved))
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise FatalConnectorError(
            f"the saved state of stream {stream!r} has an unreadable window_end {saved!r}",
            hint=f"reset it with `hub state reset <connection> --stream {stream}`; the next "
            "sync then starts from start_date",
        )
    return instant.astimezone(UTC)


# --------------------------------------------------------------------------- records


def _commission_groups(transaction: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for part in transaction.get("transactionParts") or []:
        if not isinstance(part, Mapping) or part.get("commissionGroupId") is None:
            continue
        key = str(part["commissionGroupId"])
        groups.setdefault(
            key,
            {
                "id": part["commissionGroupId"],
                "code": part.get("commissionGroupCode"),
                "name": part.get("commissionGroupName"),
                "advertiserId": transaction.get("advertiserId"),
            },
        )
    return list(groups.values())


def prepare_transaction(transaction: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The record the ``transactions`` stream yields for one Awin transaction.

    Dates become ISO 8601 UTC (see the module docstring); ``_hub`` holds the
    zone they were converted from and the distinct commission groups of the
    transaction's parts. The input is not modified.
    """
    record = dict(transaction)
    for key in DATE_FIELDS:
        if key in record:
            record[key] = awin_date_to_utc(record[key], zone)
    record[HUB_KEY] = {
        "timezone": zone.key,
        "commission_groups": _commission_groups(transaction),
    }
    return record


#: Words in a publisher's ``primaryType`` -> canonical partner kind (first match wins).
_KIND_WORDS = (
    ("cashback", "cashback"),
    ("loyalty", "cashback"),
    ("voucher", "voucher"),
    ("coupon", "voucher"),
    ("influencer", "influencer"),
    ("social", "influencer"),
    ("network", "network"),
    ("technology", "technology"),
    ("agency", "agency"),
    ("content", "content"),
    ("blog", "content"),
)


def publisher_kind(primary_type: Any) -> str:
    """The canonical partner kind of an Awin publisher type (``publisher`` when unknown)."""
    text = str(primary_type or "").lower()
    for word, kind in _KIND_WORDS:
        if word in text:
            return kind
    return "publisher"


def prepare_partner(partner: Mapping[str, Any], account_type: str) -> dict[str, Any]:
    """A publisher (advertiser accounts) or a programme (publisher accounts) as a record.

    ``_hub.kind`` is the canonical kind (``merchant`` for programmes) and
    ``_hub.categories`` the programme's sector as a list.
    """
    record = dict(partner)
    if account_type == "publisher":
        sector = partner.get("primarySector")
        kind = "merchant"
        categories = [sector.strip()] if isinstance(sector, str) and sector.strip() else []
    else:
        kind = publisher_kind(partner.get("primaryType"))
        categories = []
    record[HUB_KEY] = {"kind": kind, "categories": categories}
    return record


def _exact(value: Any) -> Any:
    """JSON numbers as exact decimal text (15 significant digits, as the mapping's rule)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        return str(value)
    return format(Decimal(format(value, ".15g")).normalize(), "f")


def prepare_commission_group(group: Mapping[str, Any], advertiser_id: Any) -> dict[str, Any]:
    """One commission group of a programme, with ``advertiserId`` and exact commission rules."""
    record = {**group, "advertiserId": advertiser_id}
    rule = {
        key: _exact(group[key])
        for key in ("type", "percentage", "amount", "currency")
        if group.get(key) is not None
    }
    record[HUB_KEY] = {"commission_rules": [rule] if rule else []}
    return record


# --------------------------------------------------------------------------- reading


def _array(body: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, Mapping) for item in body):
        raise FatalConnectorError(
            f"{what} did not answer a JSON array of objects",
            hint="check that base_url points at the Awin API (https://api.awin.com)",
        )
    return body


def read_transactions(
    client: AwinClient,
    settings: AwinSettings,
    state: Mapping[str, Any],
    now: datetime,
) -> Iterator[Message]:
    """Windows of transactions since the saved window end minus the lookback; see the module."""
    stream = TRANSACTIONS.name
    zone = settings.zone
    saved = parse_state(state, stream)
    start_of_data = local_to_utc(datetime.combine(settings.start_date, time()), zone)
    now = now.astimezone(UTC)
    path = f"{settings.account_path}/transactions/"
    seen: set[str] = set()

    def window(start: datetime, end: datetime, date_type: str) -> Iterator[Record]:
        params = {
            "startDate": format_awin(start),
            "endDate": format_awin(end),
            "timezone": settings.timezone,
            "dateType": date_type,
            "showBasketProducts": "true",
        }
        body = client.get_json(path, params)
        for raw in _array(body, f"GET {path}"):
            key = str(raw.get("id"))
            if raw.get("id") is not None and key in seen:
                continue
            seen.add(key)
            yield Record(stream, prepare_transaction(raw, zone))

    if saved is not None and settings.poll_status_changes:
        poll_from = max(start_of_data, saved - STATUS_POLL_OVERLAP)
        for date_type in ("validation", "amendment"):
            for start, end in plan_windows(poll_from, now, zone, settings.window_days):
                yield from window(start, end, date_type)
        yield Checkpoint(stream, {STATE_KEY: saved.isoformat()})

    since = start_of_data
    if saved is not None:
        since = max(start_of_data, saved - timedelta(days=settings.lookback_days))
    for start, end in plan_windows(since, now, zone, settings.window_days):
        yield from window(start, end, "transaction")
        end_utc = local_to_utc(end, zone)
        done = end_utc if saved is None else max(saved, end_utc)
        yield Checkpoint(stream, {STATE_KEY: done.isoformat()})


def read_partners(client: AwinClient, settings: AwinSettings) -> Iterator[Message]:
    """Every partner on the other side, then an empty checkpoint (a full refresh)."""
    for partner in fetch_partners(client, settings):
        yield Record(PARTNERS.name, prepare_partner(partner, settings.account_type))
    yield Checkpoint(PARTNERS.name, {})


def fetch_partners(client: AwinClient, settings: AwinSettings) -> list[Mapping[str, Any]]:
    """Publishers of an advertiser, or the programmes a publisher has joined."""
    if settings.account_type == "advertiser":
        path = f"{settings.account_path}/publishers"
        return _array(client.get_json(path), f"GET {path}")
    path = f"{settings.account_path}/programmes"
    return _array(client.get_json(path, {"relationship": "joined"}), f"GET {path}")


def read_commission_groups(
    client: AwinClient,
    settings: AwinSettings,
    programmes: Callable[[], list[Mapping[str, Any]]],
) -> Iterator[Message]:
    """Publisher accounts: the commission groups of each joined programme (one call each)."""
    stream = COMMISSION_GROUPS.name
    if settings.account_type != "publisher":
        raise FatalConnectorError(
            "the commission_groups stream exists for publisher accounts only: Awin documents "
            "no commission-group endpoint for advertisers",
            hint="remove commission_groups from the connection's streams; an advertiser's "
            "groups are stored as offer rows from its transactions' commission-group parts",
        )
    path = f"{settings.account_path}/commissiongroups"
    for programme in programmes():
        advertiser_id = programme.get("id")
        if advertiser_id is None:
            continue
        body = client.get_json(path, {"advertiserId": advertiser_id})
        groups = body.get("commissionGroups") if isinstance(body, Mapping) else None
        if not isinstance(groups, list):
            raise FatalConnectorError(
                f"GET {path}?advertiserId={advertiser_id} answered without a "
                "`commissionGroups` list",
                hint="check that base_url points at the Awin API (https://api.awin.com)",
            )
        for group in groups:
            if isinstance(group, Mapping):
                yield Record(stream, prepare_commission_group(group, advertiser_id))
    yield Checkpoint(stream, {})
