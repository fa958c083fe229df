"""A small in-memory Shopify REST Admin API behind ``httpx.MockTransport``.

It behaves like the real API where the connector's correctness depends on it
(apis.md §1.3-1.7): ``X-Shopify-Access-Token`` auth (401 body as Shopify
writes it), versioned paths, ``status=open`` as the orders default,
``updated_at_min`` compared as instants, ``order=updated_at asc``, keyset
paging with an opaque ``page_info`` in a ``Link`` header carrying
``previous`` and ``next``, follow-up requests refused (400) when they carry
filters besides ``limit``/``page_info``, and the call-limit and API-version
headers. Records are computed at request time, so a test can change an order
between two pages and watch it come back on a later page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.connectors.shopify.samples import SHOP, TOKEN

SUPPORTED_VERSIONS = frozenset(
    {"2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10"}
)
SHOP_OBJECT = {
    "id": 60000000001,
    "name": "Alpenglück",
    "myshopify_domain": f"{SHOP}.myshopify.com",
    "currency": "EUR",
    "iana_timezone": "Europe/Zurich",
    "enabled_presentment_currencies": ["EUR", "CHF", "USD"],
}


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class FakeShop:
    """One shop's orders, products and customers; ``requests`` keeps what was asked."""

    def __init__(
        self,
        *,
        orders: list[dict[str, Any]] | None = None,
        products: list[dict[str, Any]] | None = None,
        customers: list[dict[str, Any]] | None = None,
        host: str = f"{SHOP}.myshopify.com",
        token: str = TOKEN,
        served_version: str | None = None,
        sort: bool = True,
    ) -> None:
        self.data = {
            "orders": orders or [],
            "products": products or [],
            "customers": customers or [],
        }
        self.host = host
        self.token = token
        self.served_version = served_version
        self.sort = sort
        self.requests: list[httpx.Request] = []
        #: Called before each request is answered (a test may change the data).
        self.before: Callable[[httpx.Request], None] | None = None
        #: Status codes to answer instead, by request number (1-based), with headers.
        self.failures: dict[int, httpx.Response] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # ----------------------------------------------------------------- answering

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before is not None:
            self.before(request)
        injected = self.failures.get(len(self.requests))
        if injected is not None:
            return injected
        if request.url.host != self.host:
            return self._json(404, {"errors": "Not Found"})
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return self._json(
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
            )
        parts = request.url.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["admin", "api"]:
            return self._json(404, {"errors": "Not Found"})
        version, resource = parts[2], parts[3]
        if version not in SUPPORTED_VERSIONS:
            return self._json(404, {"errors": "Not Found"})
        if resource == "shop.json":
            return self._json(200, {"shop": SHOP_OBJECT}, version)
        name = resource.removesuffix(".json")
        if name not in self.data:
            return self._json(404, {"errors": "Not Found"})
        return self._list(request, name, version)

    def _list(self, request: httpx.Request, name: str, version: str) -> httpx.Response:
        query = dict(request.url.params)
        limit = int(query.get("limit", 50))
        if limit > 250:
            return self._json(400, {"errors": {"limit": "Invalid value."}})
        if "page_info" in query:
            extra = sorted(set(query) - {"page_info", "limit", "fields"})
            if extra:
                return self._json(400, {"errors": {"page_info": f"Invalid value: {extra}"}})
            token = json.loads(base64.urlsafe_b64decode(query["page_info"]))
            filters, after, direction = token["filters"], token["after"], token["direction"]
        else:
            filters = {k: v for k, v in query.items() if k != "limit"}
            after, direction = None, "next"
        rows = self._filtered(name, filters)
        if not self.sort:  # an API ignoring the sort: plain offsets over its own order
            offset = int(after[1]) if after is not None else 0
            page = rows[offset : offset + limit]
            links = []
            if offset + limit < len(rows):
                marker = {"updated_at": "", "id": offset + limit}
                links.append(self._link(request, filters, marker, "next", limit))
            headers = {"Link": ", ".join(links)} if links else {}
            return self._json(200, {name: page}, version, headers)
        if after is not None:
            key = (instant(after[0]), after[1])
            if direction == "next":
                rows = [r for r in rows if self._key(r) > key]
            else:
                rows = [r for r in rows if self._key(r) < key][-limit:]
        page = rows[:limit]
        links = []
        if after is not None and page:
            links.append(self._link(request, filters, page[0], "previous", limit))
        if len(rows) > limit:
            links.append(self._link(request, filters, page[-1], "next", limit))
        headers = {"Link": ", ".join(links)} if links else {}
        return self._json(200, {name: page}, version, headers)

    def _filtered(self, name: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        rows = list(self.data[name])
        if name == "orders" and filters.get("status", "open") == "open":
            rows = [r for r in rows if not r.get("cancelled_at") and not r.get("closed_at")]
        since = filters.get("updated_at_min")
        if since is not None:
            rows = [r for r in rows if instant(r["updated_at"]) >= instant(since)]
        if self.sort and filters.get("order") == "updated_at asc":
            rows.sort(key=self._key)
        return rows

    @staticmethod
    def _key(row: dict[str, Any]) -> tuple[datetime, int]:
        return (instant(row["updated_at"]), row["id"])

    def _link(
        self,
        request: httpx.Request,
        filters: dict[str, str],
        row: dict[str, Any],
        rel: str,
        limit: int,
    ) -> str:
        token = {"filters": filters, "after": [row["updated_at"], row["id"]], "direction": rel}
        encoded = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        url = request.url.copy_with(params={"limit": limit, "page_info": encoded})
        return f'<{url}>; rel="{rel}"'

    def _json(
        self,
        status: int,
        body: Any,
        version: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        merged = {"X-Shopify-Shop-Api-Call-Limit": "1/40", "X-Request-Id": "req-0001"}
        if version is not None:
            merged["X-Shopify-API-Version"] = self.served_version or version
        merged.update(headers or {})
        return httpx.Response(status, json=body, headers=merged)
