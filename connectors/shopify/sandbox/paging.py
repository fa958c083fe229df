"""Shopify's cursor paging: list queries, opaque ``page_info`` tokens, keyset pages, ``Link``.

A first request carries the filters (``status``, ``updated_at_min``,
``order``, ...). Its ``Link`` header points to follow-up URLs that carry only
``limit``, ``page_info`` (and ``fields`` if it was given): the token encodes
the filters, the sort and the key of the last (or first) record served, like
Shopify's own base64 JSON cursors. Sending a filter together with
``page_info`` is refused with a 400.

Pages are keyset pages, not offsets: a record that changes while a client
pages (a newer ``updated_at``) moves behind the cursor and shows up again on
a later page, exactly the trap real clients must survive.
"""

from __future__ import annotations

import base64
import binascii
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from .basics import parse_instant

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
#: The only parameters a ``page_info`` request may carry besides the token.
PAGE_INFO_COMPANIONS = frozenset({"page_info", "limit", "fields"})
_RANGES = ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
_SORTS = ("id", "created_at", "updated_at")


class BadRequest(Exception):
    """A request Shopify would answer with 400; ``errors`` is the body's ``errors`` value."""

    def __init__(self, errors: Any) -> None:
        super().__init__(str(errors))
        self.errors = errors


@dataclass(frozen=True)
class ListRequest:
    """One list request, decoded: the filters, the page size and where to start."""

    query: dict[str, Any]  # normalized filters and sort, as the token carries them
    limit: int
    fields: tuple[str, ...] | None
    direction: str | None = None  # None: first page; "next" or "previous"
    key: tuple[int, ...] | None = None  # the keyset position the token names


def parse_list_request(
    resource: str,
    params: Mapping[str, list[str]],
    *,
    statuses: Iterable[str] = (),
    default_status: str | None = None,
) -> ListRequest:
    """Decode a list request's query string, or raise :class:`BadRequest` as Shopify would."""
    limit = _limit(params)
    fields = _fields(params)
    if "page_info" in params:
        extra = sorted(set(params) - PAGE_INFO_COMPANIONS)
        if extra:
            raise BadRequest(
                {
                    "page_info": f"cannot be combined with {', '.join(extra)}: a page_info URL "
                    "already carries the filters of the first request; send it exactly as "
                    "the Link header gave it (only limit and fields may change)"
                }
            )
        token = decode_token(params["page_info"][-1])
        if token.get("resource") != resource:
            raise BadRequest({"page_info": "Invalid value."})
        return ListRequest(
            query=token["query"],
            limit=limit,
            fields=fields,
            direction=token["direction"],
            key=tuple(token["last"]),
        )
    query: dict[str, Any] = {}
    status = _one(params, "status") or default_status
    if status is not None:
        if status not in statuses:
            raise BadRequest({"status": f"must be one of {', '.join(statuses)}"})
        query["status"] = status
    for name in _RANGES:
        value = _one(params, name)
        if value:
            try:
                query[name] = parse_instant(value)
            except ValueError:
                raise BadRequest({name: f"is not an ISO 8601 timestamp: {value!r}"}) from None
    for name in ("since_id",):
        value = _one(params, name)
        if value:
            query[name] = _integer(name, value)
    ids = _one(params, "ids")
    if ids:
        query["ids"] = sorted({_integer("ids", part) for part in ids.split(",") if part.strip()})
    order = (_one(params, "order") or "id asc").strip().split()
    if len(order) not in (1, 2) or order[0] not in _SORTS or order[-1] not in ("asc", "desc"):
        raise BadRequest({"order": f"must be one of {', '.join(_SORTS)} followed by asc or desc"})
    query["order"] = f"{order[0]} {order[-1] if len(order) == 2 else 'asc'}"
    return ListRequest(query=query, limit=limit, fields=fields)


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _integer(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise BadRequest({name: f"must be an integer, got {value!r}"}) from None


def _limit(params: Mapping[str, list[str]]) -> int:
    value = _one(params, "limit")
    if value is None or value == "":
        return DEFAULT_LIMIT
    limit = _integer("limit", value)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest({"limit": f"must be between 1 and {MAX_LIMIT}, got {limit}"})
    return limit


def _fields(params: Mapping[str, list[str]]) -> tuple[str, ...] | None:
    value = _one(params, "fields")
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


# --------------------------------------------------------------------------- tokens


def encode_token(
    resource: str, direction: str, last: tuple[int, ...], query: dict[str, Any]
) -> str:
    """An opaque page_info: base64url of a JSON cursor, as Shopify's look (``eyJ...``)."""
    payload = {"direction": direction, "last": list(last), "resource": resource, "query": query}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """The cursor inside ``token``, or a 400 ``{"page_info": "Invalid value."}``."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(payload, dict) or payload.get("direction") not in ("next", "previous"):
            raise ValueError("not a cursor")
        if not isinstance(payload.get("query"), dict) or not isinstance(payload.get("last"), list):
            raise ValueError("not a cursor")
        return payload
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest({"page_info": "Invalid value."}) from None


def link_header(
    base_url: str,
    path: str,
    request: ListRequest,
    resource: str,
    previous: tuple[int, ...] | None,
    following: tuple[int, ...] | None,
) -> str | None:
    """The ``Link`` header for a page: previous first, then next; None when there is neither."""
    links = []
    for rel, key in (("previous", previous), ("next", following)):
        if key is None:
            continue
        params: dict[str, Any] = {"limit": request.limit}
        if request.fields:
            params["fields"] = ",".join(request.fields)
        params["page_info"] = encode_token(resource, rel, key, request.query)
        links.append(f'<{base_url}{path}?{urlencode(params)}>; rel="{rel}"')
    return ", ".join(links) or None


# --------------------------------------------------------------------------- listings


class Listing:
    """The records of one resource, listable by id, created_at or updated_at, with keyset pages.

    Records are positions ``0 .. n-1``, ascending by id and by creation time
    (true of orders, products and customers here). ``created`` and
    ``updated`` hold epoch seconds per position; an ``updated_at`` order is
    kept as a sorted array of positions and patched when a record changes
    (:meth:`touch`), so nothing is rebuilt per request.
    """

    def __init__(self, ids: array[int], created: array[int], updated: array[int]) -> None:
        self.ids, self.created, self.updated = ids, created, updated
        self.version = 0  # bumped by every touch: a page composed earlier is stale
        self._by_updated: array[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def by_updated(self) -> array[int]:
        if self._by_updated is None:
            updated = self.updated
            self._by_updated = array("q", sorted(range(len(updated)), key=updated.__getitem__))
        return self._by_updated

    def _updated_key(self, position: int) -> tuple[int, int]:
        return (self.updated[position], self.ids[position])

    def _id_key(self, position: int) -> tuple[int, ...]:
        return (self.ids[position],)

    def touch(self, position: int, updated: int) -> None:
        """Record ``position`` changed at ``updated``: it moves to its place in updated order."""
        order = self.by_updated
        old = bisect_left(order, self._updated_key(position), key=self._updated_key)
        del order[old]
        self.updated[position] = updated
        order.insert(
            bisect_left(order, self._updated_key(position), key=self._updated_key), position
        )
        self.version += 1

    def page(
        self, request: ListRequest, match: Callable[[int], bool] | None = None
    ) -> tuple[list[int], tuple[int, ...] | None, tuple[int, ...] | None]:
        """Positions on the requested page, and the keys for its previous and next links."""
        query = request.query
        sort, direction = query["order"].split()
        if sort == "updated_at":
            seq: Any = self.by_updated
            key: Callable[[int], Any] = self._updated_key
            lo = bisect_left(seq, (query.get("updated_at_min", -(2**62)),), key=key)
            hi = bisect_left(seq, (query.get("updated_at_max", 2**62) + 1,), key=key)
        else:
            seq = range(len(self.ids))
            key = self._id_key
            lo = bisect_left(self.created, query.get("created_at_min", -(2**62)))
            hi = bisect_right(self.created, query.get("created_at_max", 2**62))
        if "since_id" in query:
            lo = max(lo, bisect_right(self.ids, query["since_id"])) if sort != "updated_at" else lo
        predicate = self._predicate(query, sort, match)
        descending = direction == "desc"
        forward = request.direction != "previous"  # in the listing's own order
        up = forward != descending  # in ascending positions
        found: list[int] = []
        for n in _walk(seq, key, lo, hi, request.key, up):
            position = seq[n]
            if predicate(position):
                found.append(position)
                if len(found) > request.limit:
                    break
        more = len(found) > request.limit
        page = found[: request.limit]
        if not forward:
            page.reverse()
        if not page:
            return page, None, None
        first, last = key(page[0]), key(page[-1])
        if request.direction is None:
            return page, None, last if more else None
        if forward:
            return page, first, last if more else None
        return page, first if more else None, last

    def _predicate(
        self, query: dict[str, Any], sort: str, match: Callable[[int], bool] | None
    ) -> Callable[[int], bool]:
        """The filters the walk's bounds do not already apply."""
        checks: list[Callable[[int], bool]] = []
        created, updated, ids = self.created, self.updated, self.ids
        if sort == "updated_at":
            low, high = query.get("created_at_min"), query.get("created_at_max")
            if low is not None or high is not None:
                lo_, hi_ = low if low is not None else -(2**62), high if high is not None else 2**62
                checks.append(lambda p: lo_ <= created[p] <= hi_)
            if "since_id" in query:
                since = query["since_id"]
                checks.append(lambda p: ids[p] > since)
        else:
            low, high = query.get("updated_at_min"), query.get("updated_at_max")
            if low is not None or high is not None:
                lo2, hi2 = low if low is not None else -(2**62), high if high is not None else 2**62
                checks.append(lambda p: lo2 <= updated[p] <= hi2)
        if "ids" in query:
            wanted = set(query["ids"])
            checks.append(lambda p: ids[p] in wanted)
        if match is not None:
            checks.append(match)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda p: all(check(p) for check in checks)

    def count(self, request: ListRequest, match: Callable[[int], bool] | None = None) -> int:
        """How many records match the request's filters (``/count.json``)."""
        everything = ListRequest(query=request.query, limit=len(self.ids) + 1, fields=None)
        return len(self.page(everything, match)[0])


def _always(_: int) -> bool:
    return True


def _walk(
    seq: Any,
    key: Callable[[int], tuple[int, ...]],
    lo: int,
    hi: int,
    after: tuple[int, ...] | None,
    up: bool,
) -> range:
    """Positions of ``seq`` within [lo, hi) strictly beyond ``after`` in direction ``up``."""
    if lo >= hi:
        return range(0)
    if up:
        start = lo if after is None else max(lo, bisect_right(seq, after, lo, hi, key=key))
        return range(start, hi)
    start = hi - 1 if after is None else min(hi - 1, bisect_left(seq, after, lo, hi, key=key) - 1)
    return range(start, lo - 1, -1)
