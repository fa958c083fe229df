"""A small fake JSON API on 127.0.0.1 with Link-header paging, for end-to-end tests.

It serves ``/orders`` (orders with line items, ordered by ``updated_at``) and
``/partners``, filters by ``updated_since``, pages with ``limit`` and an
opaque ``page_info`` token exactly the way Shopify does (follow-up requests
carry only ``limit`` and ``page_info``), and demands a bearer token.
A test can hook every request (``on_request``) to kill a client mid-stream.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

T0 = datetime(2025, 3, 1, tzinfo=UTC)
CURRENCIES = ("EUR", "CHF", "GBP")


def make_orders(count: int) -> list[dict[str, Any]]:
    """``count`` deterministic orders, ascending by ``updated_at``."""
    orders = []
    for i in range(count):
        currency = CURRENCIES[i % len(CURRENCIES)]
        items = []
        for line in range(1 + i % 3):
            price = Decimal(10 + (i * 7 + line * 3) % 90) + Decimal("0.95")
            items.append(
                {
                    "id": i * 10 + line,
                    "sku": None if (i + line) % 11 == 0 else f"SKU-{(i + line) % 40:03d}",
                    "title": f"Wanderjacke Größe {line} ⛰️",
                    "quantity": 1 + line,
                    "price": str(price),
                }
            )
        total = sum(Decimal(it["price"]) * it["quantity"] for it in items)
        orders.append(
            {
                "id": 1000 + i,
                "number": 5000 + i,
                "created_at": (T0 + timedelta(minutes=i)).isoformat(),
                "updated_at": (T0 + timedelta(minutes=i, seconds=30)).isoformat(),
                "currency": currency,
                "total": str(total),
                "status": ("paid", "open", "refunded")[i % 3],
                "partner_id": f"P{i % 7}",
                "partner_name": f"Partner {i % 7}",
                "items": items,
                "note": "Grüße 👋",
            }
        )
    return orders


class FakeApi:
    """A threaded fake API server; use as a context manager."""

    def __init__(
        self,
        orders: int = 25,
        *,
        token: str = "fake-token-0123456789",
        on_request: Callable[[int, str], None] | None = None,
    ) -> None:
        self.orders = make_orders(orders)
        self.token = token
        self.on_request = on_request
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _page(
        self, path: str, query: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        if "page_info" in query:
            extra = set(query) - {"page_info", "limit"}
            if extra:
                raise ValueError(f"page_info requests take no other filters: {sorted(extra)}")
            cursor = json.loads(base64.urlsafe_b64decode(query["page_info"][0]))
            since, offset = cursor["since"], cursor["offset"]
        else:
            since, offset = query.get("updated_since", [""])[0], 0
        limit = int(query.get("limit", ["50"])[0])
        rows = [o for o in self.orders if not since or o["updated_at"] >= since]
        page = rows[offset : offset + limit]
        if offset + limit >= len(rows):
            return page, None
        token = base64.urlsafe_b64encode(
            json.dumps({"since": since, "offset": offset + limit}).encode()
        ).decode()
        return page, f"{self.url}{path}?{urlencode({'limit': limit, 'page_info': token})}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with api._lock:
                    api.requests.append(self.path)
                    number = len(api.requests)
                if api.on_request is not None:
                    api.on_request(number, self.path)
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._send(401, {"errors": "Invalid API key or access token"})
                    return
                url = urlparse(self.path)
                if url.path != "/orders":
                    self._send(404, {"errors": "Not Found"})
                    return
                try:
                    page, next_url = api._page(url.path, parse_qs(url.query))
                except ValueError as exc:
                    self._send(400, {"errors": str(exc)})
                    return
                headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
                self._send(200, {"orders": page}, headers)

        return Handler


if __name__ == "__main__":  # a manual run: python -m tests.fakes.paged_api
    import time

    with FakeApi(orders=100) as fake:
        print(fake.url, flush=True)
        time.sleep(3600)
