"""The sandbox's HTTP side: a fake Shopify Admin REST API on 127.0.0.1.

What a client sees is what a real shop does (apis.md 1.2-1.9): the version
in the path is echoed in ``X-Shopify-API-Version``; a wrong token answers
401 with Shopify's body; every response carries
``X-Shopify-Shop-Api-Call-Limit: used/size`` from a real leaky bucket, and a
full bucket answers 429 with ``Retry-After``; lists page by ``Link`` headers
and ``page_info`` cursors (:mod:`.paging`); ``orders.json`` lists only open
orders unless ``status`` says otherwise. Price rules and discount codes can be
created and looked up (:mod:`.discounts`).
"""

from __future__ import annotations

import hmac
import math
import re
import threading
import time
from array import array
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from hub.sandbox import LoopbackServer, Reply

from .basics import (
    CUSTOMER_ID_BASE,
    ORDER_ID_BASE,
    SHOP_DOMAIN,
    money,
    parse_instant,
    shop_json,
    shop_time,
)
from .data import ShopData
from .discounts import DiscountStore, NotFound, ValidationFailed
from .paging import BadRequest, Listing, ListRequest, link_header, parse_list_request
from .people import customer_json

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105 - an error message
ORDER_STATUSES = ("open", "closed", "cancelled", "any")
PRODUCT_STATUSES = ("active", "archived", "draft")
_PATH = re.compile(r"^/admin/api/([^/]+)/(.+)\.json$")
_CLOSED, _CANCELLED = 1, 2


class SandboxRequest(NamedTuple):
    """One request the sandbox answered (for tests that count or inspect requests)."""

    method: str
    path: str  # path and query string, as sent
    status: int


class LeakyBucket:
    """Shopify's REST limiter: ``size`` slots, leaking ``leak_rate`` per second, per shop."""

    def __init__(
        self, size: int = 40, leak_rate: float = 2.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if size < 1 or leak_rate <= 0:
            raise ValueError("a leaky bucket needs size >= 1 and a positive leak rate")
        self.size, self.leak_rate, self._clock = size, leak_rate, clock
        self._level = 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int]:
        """Try to add one request: (admitted, the ``used`` figure to report)."""
        with self._lock:
            now = self._clock()
            self._level = max(0.0, self._level - (now - self._last) * self.leak_rate)
            self._last = now
            if self._level + 1 > self.size:
                return False, self.size
            self._level += 1
            return True, min(self.size, math.ceil(self._level))

    def used(self) -> int:
        """The ``used`` figure now, without adding a request."""
        with self._lock:
            level = max(0.0, self._level - (self._clock() - self._last) * self.leak_rate)
            return min(self.size, math.ceil(level))


class _Response(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, orjson.dumps(body), headers or {})


_NOT_FOUND = _json(404, {"errors": "Not Found"})


class ShopifySandbox(LoopbackServer):
    """A local fake Shopify shop on 127.0.0.1; a context manager (or :meth:`start`/:meth:`stop`)::

        with ShopifySandbox(orders=500, token="shpat_sandbox", seed=1) as shop:
            settings = {"shop": shop.shop, "base_url": shop.url, ...}

    ``orders`` orders are generated on request from ``seed`` (see
    :class:`~.data.ShopData`); the server keeps only a small index of them
    (created and updated instants, closed/cancelled flags: 17 bytes an order).

    Rate limits: the leaky bucket has ``bucket_size`` slots leaking
    ``leak_rate`` per second; a full bucket answers 429 with ``Retry-After:
    retry_after`` (Shopify: 2.0). ``rate_limit=False`` never refuses (the
    header then always shows an almost empty bucket); ``inject_429_every=N``
    refuses every Nth authorised request anyway, its call-limit header showing
    the room that is left (the stray 429s real clients report).

    ``mutate_during_paging`` makes one order of every orders page that has a
    next page change (a newer ``updated_at``) right after it was served, so
    it shows up again on a later page. ``prefetch`` builds the next orders
    page in a background thread while the client is busy with the current
    one (a real gain only when the client runs in another process).
    """

    thread_name = "shopify-sandbox"
    server_name = "ShopifySandbox"

    def __init__(
        self,
        orders: int = 500,
        *,
        token: str = "shpat_sandbox",  # noqa: S107 - the sandbox's own, published token
        seed: int = 1,
        port: int = 0,
        bucket_size: int = 40,
        leak_rate: float = 2.0,
        rate_limit: bool = True,
        retry_after: float = 2.0,
        inject_429_every: int | None = None,
        mutate_during_paging: bool = False,
        prefetch: bool = True,
    ) -> None:
        if orders < 0:
            raise ValueError("orders must be >= 0")
        if inject_429_every is not None and inject_429_every < 2:
            raise ValueError(
                "inject_429_every must be at least 2 (every request refused never ends)"
            )
        self.order_count = orders
        self.token = token
        self.data = ShopData(seed)
        self.bucket = LeakyBucket(bucket_size, leak_rate)
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.inject_429_every = inject_429_every
        self.mutate_during_paging = mutate_during_paging
        self.discounts = DiscountStore()
        self.requests: list[SandboxRequest] = []
        self._served = 0
        #: order id -> the newer updated_at it was given (by :meth:`touch` or while paging)
        self.mutated: dict[int, str] = {}
        self._touched: dict[int, int] = {}
        self._lock = threading.RLock()
        self._authorised = 0
        self._orders = self._index_orders()
        self._customers: tuple[Listing, list[int], dict[int, list[int]]] | None = None
        self._products = self._index_products()
        self._prefetch = ThreadPoolExecutor(1, "sandbox-prefetch") if prefetch else None
        self._pages: dict[tuple[Any, ...], tuple[int, Future[tuple[_Response, list[int]]]]] = {}
        self._listen(port)

    # ----------------------------------------------------------------------- lifecycle

    @property
    def shop(self) -> str:
        """The shop's myshopify subdomain (the connector's ``shop`` setting)."""
        return SHOP_DOMAIN.removesuffix(".myshopify.com")

    def stop(self) -> None:
        super().stop()
        if self._prefetch is not None:
            self._prefetch.shutdown(wait=True, cancel_futures=True)

    # ----------------------------------------------------------------------- data

    def _index_orders(self) -> Listing:
        n = self.order_count
        created, updated, flags = array("q", bytes(8 * n)), array("q", bytes(8 * n)), bytearray(n)
        for i in range(n):
            f = self.data.facts(i)
            created[i], updated[i] = f.created, f.updated
            flags[i] = (_CLOSED if f.closed else 0) | (_CANCELLED if f.cancelled else 0)
        self._flags = flags
        return Listing(array("q", range(ORDER_ID_BASE, ORDER_ID_BASE + n)), created, updated)

    def _index_products(self) -> Listing:
        products = self.data.products
        return Listing(
            array("q", (p["id"] for p in products)),
            array("q", (parse_instant(p["created_at"]) for p in products)),
            array("q", (parse_instant(p["updated_at"]) for p in products)),
        )

    def _customer_index(self) -> tuple[Listing, list[int], dict[int, list[int]]]:
        """Customers (built on first use): the listing, their keys, and each one's orders."""
        with self._lock:
            if self._customers is None:
                orders: dict[int, list[int]] = {}
                for i in range(self.order_count):
                    key = self.data.customer_key(i)
                    if key is not None:
                        orders.setdefault(key, []).append(i)
                keys = sorted(orders)
                created = self._orders.created
                listing = Listing(
                    array("q", (CUSTOMER_ID_BASE + k for k in keys)),
                    array("q", (created[k] - 45 for k in keys)),
                    array("q", (created[orders[k][-1]] for k in keys)),
                )
                self._customers = (listing, keys, orders)
            return self._customers

    def order(self, index: int) -> dict[str, Any]:
        """Order ``index`` as the sandbox serves it now (a touched order in its newer version)."""
        return self.data.order(index, touched_at=self._touched.get(index))

    def touch(self, order_id: int, at: int | None = None) -> str:
        """Give order ``order_id`` a newer ``updated_at`` (default: after every other order's).

        Returns the new ``updated_at``. Clients see the new version from then on.
        """
        index = order_id - ORDER_ID_BASE
        if not 0 <= index < self.order_count:
            raise KeyError(order_id)
        with self._lock:
            if at is None:  # a minute after the latest change in the shop
                at = self._orders.updated[self._orders.by_updated[-1]] + 60
            self._orders.touch(index, at)
            self._touched[index] = at
            self.mutated[order_id] = shop_time(at)
            return self.mutated[order_id]

    # ----------------------------------------------------------------------- requests

    def respond(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        response = self.handle(method, target, headers, body, headers.get("Host"))
        with self._lock:
            self._served += 1
            served = self._served
        extra = (("X-Request-Id", f"sandbox-{served:08d}"),)
        return Reply(response.status, response.body, extra + tuple(response.headers.items()))

    def failure(self, error: Exception) -> Reply:
        body = {"errors": f"sandbox error: {type(error).__name__}: {error}"}
        return Reply(500, orjson.dumps(body))

    def record(self, method: str, target: str, status: int, body: bytes) -> None:
        with self._lock:
            if len(self.requests) >= 1_000_000:  # a demo running for weeks
                del self.requests[:500_000]
            self.requests.append(SandboxRequest(method, target, status))

    def handle(
        self, method: str, target: str, headers: Any, body: bytes, host: str | None
    ) -> _Response:
        """Answer one request (everything but the socket): auth, rate limit, routing."""
        url = urlsplit(target)
        match = _PATH.match(url.path)
        version = match.group(1) if match else None
        extra = {"X-Shopify-API-Version": version} if version else {}
        if match is None:
            return _NOT_FOUND._replace(headers=extra)
        token = headers.get("X-Shopify-Access-Token") or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return _json(401, {"errors": INVALID_TOKEN}, extra)
        with self._lock:
            self._authorised += 1
            injected = bool(self.inject_429_every and self._authorised % self.inject_429_every == 0)
        if injected:  # a stray 429 although the bucket has room, as clients do report
            admitted, used = False, self.bucket.used() if self.rate_limit else 1
        else:
            admitted, used = self.bucket.take() if self.rate_limit else (True, 1)
        if not admitted:
            extra["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{self.bucket.size}"
            extra["Retry-After"] = str(float(self.retry_after))
            message = (
                f"Exceeded {self.bucket.leak_rate:g} calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            )
            return _json(429, {"errors": message}, extra)
        extra["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{self.bucket.size}"
        base = f"http://{host}" if host else self.url
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            response = self._route(method, match.group(2), params, body, base, version or "")
        except BadRequest as exc:
            response = _json(400, {"errors": exc.errors})
        except ValidationFailed as exc:
            response = _json(422, {"errors": exc.errors})
        except NotFound:
            response = _NOT_FOUND
        return response._replace(headers={**extra, **response.headers})

    def _route(
        self,
        method: str,
        path: str,
        params: dict[str, list[str]],
        body: bytes,
        base: str,
        version: str,
    ) -> _Response:
        parts = path.split("/")
        ids = [int(p) if p.isdigit() else None for p in parts]
        n = len(parts)
        if method == "GET":
            if path == "orders":
                return self._list_orders(params, base, version)
            if path == "orders/count":
                request = parse_list_request(
                    "orders", params, statuses=ORDER_STATUSES, default_status="open"
                )
                return _json(
                    200, {"count": self._orders.count(request, self._status_filter(request))}
                )
            if n == 2 and parts[0] == "orders" and ids[1] is not None:
                index = ids[1] - ORDER_ID_BASE
                if not 0 <= index < self.order_count:
                    raise NotFound
                return _json(200, {"order": _only(self.order(index), params)})
            if path == "products":
                return self._list_products(params, base, version)
            if path == "products/count":
                return _json(200, {"count": len(self.data.products)})
            if n == 2 and parts[0] == "products" and ids[1] is not None:
                found = [p for p in self.data.products if p["id"] == ids[1]]
                if not found:
                    raise NotFound
                return _json(200, {"product": _only(found[0], params)})
            if path == "customers":
                return self._list_customers(params, base, version)
            if path == "customers/count":
                return _json(200, {"count": len(self._customer_index()[1])})
            if n == 2 and parts[0] == "customers" and ids[1] is not None:
                key = ids[1] - CUSTOMER_ID_BASE
                if key not in self._customer_index()[2]:
                    raise NotFound
                return _json(200, {"customer": _only(self._customer(key), params)})
            if path == "shop":
                return _json(200, {"shop": _only(shop_json(), params)})
            if path == "discount_codes/lookup":
                code = self.discounts.lookup((params.get("code") or [""])[-1])
                location = (
                    f"{base}/admin/api/{version}/price_rules/{code['price_rule_id']}"
                    f"/discount_codes/{code['id']}.json"
                )
                return _Response(303, b"", {"Location": location})
        if parts[0] == "price_rules":
            return self._price_rules(method, parts, ids, params, body, base, version)
        raise NotFound

    def _price_rules(
        self,
        method: str,
        parts: list[str],
        ids: list[int | None],
        params: dict[str, list[str]],
        body: bytes,
        base: str,
        version: str,
    ) -> _Response:
        n = len(parts)
        store = self.discounts
        if n == 1:
            if method == "POST":
                return _json(201, {"price_rule": store.create_rule(_body(body))})
            if method == "GET":
                rules = store.list_rules()
                listing = Listing(
                    array("q", (r["id"] for r in rules)),
                    array("q", (parse_instant(r["created_at"]) for r in rules)),
                    array("q", (parse_instant(r["updated_at"]) for r in rules)),
                )
                request = parse_list_request("price_rules", params)
                page, previous, following = listing.page(request)
                link = link_header(
                    base,
                    f"/admin/api/{version}/price_rules.json",
                    request,
                    "price_rules",
                    previous,
                    following,
                )
                items = [_only(rules[p], params, request.fields) for p in page]
                return _json(200, {"price_rules": items}, {"Link": link} if link else None)
        rule_id = ids[1] if n > 1 else None
        if rule_id is None:
            raise NotFound
        if n == 2:
            if method == "GET":
                return _json(200, {"price_rule": store.rule(rule_id)})
            if method == "PUT":
                return _json(200, {"price_rule": store.update_rule(rule_id, _body(body))})
            if method == "DELETE":
                store.delete_rule(rule_id)
                return _Response(204, b"", {})
        if n == 3 and parts[2] == "discount_codes":
            if method == "POST":
                return _json(201, {"discount_code": store.create_code(rule_id, _body(body))})
            if method == "GET":
                return _json(200, {"discount_codes": store.codes_of(rule_id)})
        if n == 4 and parts[2] == "discount_codes" and ids[3] is not None:
            if method == "GET":
                return _json(200, {"discount_code": store.code(rule_id, ids[3])})
            if method == "DELETE":
                store.delete_code(rule_id, ids[3])
                return _Response(204, b"", {})
        raise NotFound

    # ----------------------------------------------------------------------- lists

    def _status_filter(self, request: ListRequest) -> Callable[[int], bool] | None:
        status = request.query.get("status", "any")
        flags = self._flags
        if status == "open":
            return lambda p: not flags[p]
        if status == "closed":
            return lambda p: bool(flags[p] & _CLOSED)
        if status == "cancelled":
            return lambda p: bool(flags[p] & _CANCELLED)
        return None

    def _list_orders(self, params: dict[str, list[str]], base: str, version: str) -> _Response:
        request = parse_list_request(
            "orders", params, statuses=ORDER_STATUSES, default_status="open"
        )
        key = (params.get("page_info", [None])[-1], request.limit, request.fields, version, base)
        with self._lock:
            cached = self._pages.pop(key, None) if "page_info" in params else None
        built = None
        if cached is not None and cached[0] == self._orders.version:
            try:
                built = cached[1].result()
            except Exception:  # the prefetch failed: build it here, where errors are reported
                built = None
        response, page = built or self._orders_page(request, base, version)
        has_next = response.headers.get("Link", "").endswith('rel="next"')
        if self.mutate_during_paging and has_next and page[len(page) // 2] not in self._touched:
            self.touch(ORDER_ID_BASE + page[len(page) // 2])
        if has_next:
            self._prefetch_next(response.headers["Link"], base, version)
        return response

    def _orders_page(
        self, request: ListRequest, base: str, version: str
    ) -> tuple[_Response, list[int]]:
        """One page of orders: the response and the indices of the orders on it."""
        with self._lock:
            page, previous, following = self._orders.page(request, self._status_filter(request))
            touched = {p: self._touched[p] for p in page if p in self._touched}
        orders = self.data.order
        fields = request.fields
        items = [orders(p, touched_at=touched.get(p)) for p in page]
        if fields:
            items = [{k: o[k] for k in fields if k in o} for o in items]
        path = f"/admin/api/{version}/orders.json"
        link = link_header(base, path, request, "orders", previous, following)
        return _json(200, {"orders": items}, {"Link": link} if link else None), page

    def _prefetch_next(self, link: str, base: str, version: str) -> None:
        """Start building the next page in the background (the client asks for it next)."""
        if self._prefetch is None:
            return
        url = link.rsplit("<", 1)[1].split(">", 1)[0]
        params = parse_qs(urlsplit(url).query)
        following = parse_list_request("orders", params)
        key = (params["page_info"][-1], following.limit, following.fields, version, base)
        with self._lock:
            while len(self._pages) >= 4:
                self._pages.pop(next(iter(self._pages)))
            try:
                future = self._prefetch.submit(self._orders_page, following, base, version)
            except RuntimeError:  # shutting down
                return
            self._pages[key] = (self._orders.version, future)

    def _list_products(self, params: dict[str, list[str]], base: str, version: str) -> _Response:
        request = parse_list_request("products", params, statuses=PRODUCT_STATUSES)
        products = self.data.products
        status = request.query.get("status")
        match = (lambda p: products[p]["status"] == status) if status else None
        page, previous, following = self._products.page(request, match)
        link = link_header(
            base, f"/admin/api/{version}/products.json", request, "products", previous, following
        )
        items = [_only(products[p], {}, request.fields) for p in page]
        return _json(200, {"products": items}, {"Link": link} if link else None)

    def _list_customers(self, params: dict[str, list[str]], base: str, version: str) -> _Response:
        request = parse_list_request("customers", params)
        listing, keys, _ = self._customer_index()
        page, previous, following = listing.page(request)
        link = link_header(
            base, f"/admin/api/{version}/customers.json", request, "customers", previous, following
        )
        items = [_only(self._customer(keys[p]), {}, request.fields) for p in page]
        return _json(200, {"customers": items}, {"Link": link} if link else None)

    def _customer(self, key: int) -> dict[str, Any]:
        """The Customer resource: the embedded shape plus orders_count, total_spent, last order."""
        _, _, orders = self._customer_index()
        placed = orders[key]
        person, _ = self.data.person(key)
        last = placed[-1]
        spent = 0
        for i in placed:
            order = self.order(i)
            if not order["test"] and not order["cancelled_at"]:
                spent += round(float(order["current_total_price"]) * 100)
        record = customer_json(person, self._orders.created[last])
        default = record.pop("default_address")
        record.update(
            {
                "orders_count": len(placed),
                "total_spent": money(spent),
                "last_order_id": ORDER_ID_BASE + last,
                "last_order_name": f"#{1001 + last}",
                "addresses": [default],
                "default_address": default,
            }
        )
        return record


def _only(
    record: dict[str, Any], params: dict[str, list[str]], fields: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """``record`` cut down to the ``fields=`` the request asked for (all when none)."""
    if fields is None and params.get("fields"):
        fields = tuple(f.strip() for f in params["fields"][-1].split(",") if f.strip())
    return {k: record[k] for k in fields if k in record} if fields else record


def _body(body: bytes) -> Any:
    try:
        return orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not JSON") from None
