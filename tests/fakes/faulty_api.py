"""A fake JSON orders API on 127.0.0.1 that misbehaves on purpose, page by page.

It serves the orders of :func:`tests.fakes.paged_api.make_orders` at
``/orders`` the way the generic ``rest`` connector reads them (``limit``,
``updated_since``; Link-header paging like Shopify, or a ``next`` cursor in the
body), and follows a :class:`FaultPlan` that says what goes wrong:

- **Wire faults**, scripted per page: the first attempts at page N get the
  listed :class:`Fault` s one after the other (a 429 storm is five 429s in a
  row), later attempts get the real page. Each fault is real on the socket: a
  reset is a TCP RST, a read timeout is a server that says nothing, truncated
  JSON is a well-framed 200 whose body stops half-way.
- **Data faults** shape the listing itself: an empty page with a next link, a
  record repeated on the next page or on its own page, records out of cursor
  order, a next link or cursor that points back to an earlier page.

A server is real rather than an ``httpx`` mock so that resets and timeouts go
through the same socket code as in production. ``plan`` can be swapped
between runs (``api.plan = FaultPlan()`` for the clean re-run); ``injected``
counts the faults actually served, by kind.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes.paged_api import make_orders

FaultKind = Literal[
    "status",  # an HTTP error status (429, 5xx), optionally with Retry-After
    "reset",  # the connection is reset (RST) before any response
    "read_timeout",  # the request is accepted and never answered
    "truncated_json",  # 200, correctly framed, but the JSON body stops half-way
    "cut_body",  # 200 announcing N bytes, the connection closes after N/2
    "html_200",  # 200 with a proxy's HTML error page instead of JSON
    "empty_body",  # 200 with no body at all
]

#: What a CDN or login proxy shows instead of the API: status 200, HTML, no JSON.
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment... | Partner CDN</title></head>"
    b"<body><h1>Checking your browser before accessing the API</h1></body></html>"
)


_NAMES = {
    "reset": "connection reset",
    "read_timeout": "read timeout",
    "truncated_json": "truncated JSON",
    "cut_body": "body cut off mid-transfer",
    "html_200": "HTML page with status 200",
    "empty_body": "empty body with status 200",
}


@dataclass(frozen=True)
class Fault:
    """One faulty answer. ``name`` is how the reliability figures count it."""

    kind: FaultKind
    status: int = 200
    #: ``Retry-After`` sent as is (``"2"``, ``"1.5"``).
    retry_after: str | None = None
    #: ``Retry-After`` sent as an HTTP date this many seconds from now.
    retry_after_date: float | None = None

    @property
    def name(self) -> str:
        if self.kind != "status":
            return _NAMES[self.kind]
        if self.retry_after is not None:
            return f"HTTP {self.status} with Retry-After seconds"
        if self.retry_after_date is not None:
            return f"HTTP {self.status} with Retry-After date"
        return f"HTTP {self.status}"


def status(code: int, *, retry_after: str | None = None, date_in: float | None = None) -> Fault:
    """An error status, with ``Retry-After`` in seconds or as a date ``date_in`` s ahead."""
    return Fault("status", code, retry_after, date_in)


def storm(fault: Fault, times: int) -> list[Fault]:
    """``times`` identical faults in a row (a 429 storm)."""
    return [fault] * times


@dataclass
class FaultPlan:
    """What goes wrong, by page number (1 = the first page of a listing)."""

    #: page -> faults served to its first attempts, in order.
    wire: Mapping[int, Sequence[Fault]] = field(default_factory=dict)
    #: pages served empty, with a next link to the page that should have come.
    empty_pages: frozenset[int] = frozenset()
    #: pages that start with the last record of the previous page again.
    duplicate_pages: frozenset[int] = frozenset()
    #: pages that hold their own first record twice (one batch, one statement).
    repeat_within_pages: frozenset[int] = frozenset()
    #: page -> earlier page: that page's next link or cursor points back there.
    backwards: Mapping[int, int] = field(default_factory=dict)
    #: serve the records in a scrambled order instead of ascending ``updated_at``.
    out_of_order: bool = False
    #: the last page still links to a next one (which is empty), as some APIs do.
    next_after_last: bool = False


def scrambled(count: int) -> list[int]:
    """A fixed permutation of ``range(count)`` that leaves no page in cursor order."""
    step = next(s for s in (7, 11, 13, 17) if count % s)
    return [(i * step) % count for i in range(count)]


class FaultyApi:
    """The threaded fake server; use as a context manager."""

    def __init__(
        self,
        orders: int = 23,
        *,
        token: str,
        paging: Literal["link", "cursor"] = "link",
        plan: FaultPlan | None = None,
        hold_seconds: float = 5.0,
    ) -> None:
        self.orders = make_orders(orders)
        self.token = token
        self.paging = paging
        self.plan = plan or FaultPlan()
        self.hold_seconds = hold_seconds
        #: every request path, in arrival order.
        self.requests: list[str] = []
        #: attempts per page number since the plan was last set.
        self.attempts: Counter[int] = Counter()
        #: faults served, by :attr:`Fault.name` (and data faults by their name).
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port!s}"

    def __enter__(self) -> FaultyApi:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def heal(self) -> None:
        """No more faults: the next run sees the clean API."""
        with self._lock:
            self.plan = FaultPlan()
            self.attempts.clear()

    # -- the listing ---------------------------------------------------------------------------

    def listing(self, since: str) -> list[dict[str, Any]]:
        """The records a request with ``updated_since=since`` pages through, in API order."""
        rows = self.orders
        if self.plan.out_of_order:
            rows = [rows[i] for i in scrambled(len(rows))]
        return [row for row in rows if not since or row["updated_at"] >= since]

    def _token(self, since: str, page: int, empty: bool = False) -> str:
        raw = json.dumps({"since": since, "page": page, "empty": empty}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _page(self, query: dict[str, list[str]]) -> tuple[int, list[dict[str, Any]], str | None]:
        """The page asked for: its number, its records and the token of the next one."""
        token = query.get("page_info" if self.paging == "link" else "cursor", [""])[0]
        if token:
            cursor = json.loads(base64.urlsafe_b64decode(token))
            since, page, served_empty = cursor["since"], cursor["page"], cursor["empty"]
            if self.paging == "cursor":
                since = query.get("updated_since", [""])[0]
        else:
            since, page, served_empty = query.get("updated_since", [""])[0], 1, False
        limit = int(query.get("limit", ["50"])[0])
        rows = self.listing(since)
        plan = self.plan
        if page in plan.empty_pages and not served_empty:
            self.injected["empty page mid-stream"] += 1
            return page, [], self._token(since, page, empty=True)
        start = (page - 1) * limit
        records = rows[start : start + limit]
        if page in plan.duplicate_pages and start > 0:
            self.injected["same record on two pages"] += 1
            records = [rows[start - 1], *records]
        if page in plan.repeat_within_pages and records:
            self.injected["same record twice on one page"] += 1
            records = [*records, records[0]]
        if plan.out_of_order:
            self.injected["records out of cursor order"] += 1
        if page in plan.backwards:
            self.injected["cursor going backwards"] += 1
            return page, records, self._token(since, plan.backwards[page])
        if start >= len(rows) and start > 0:
            self.injected["empty last page"] += 1
        if start + limit >= len(rows) and not plan.next_after_last:
            return page, records, None
        if start >= len(rows):
            return page, records, None  # an empty page past the end: that is enough
        return page, records, self._token(since, page + 1)

    # -- the server ----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self,
                status: int,
                body: bytes,
                *,
                content_type: str = "application/json",
                length: int | None = None,
                headers: Mapping[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends a TCP RST instead of a polite FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True

            def _fault(self, fault: Fault, body: bytes, headers: Mapping[str, str]) -> None:
                if fault.kind == "status":
                    extra = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = fault.retry_after
                    if fault.retry_after_date is not None:
                        when = datetime.now(UTC) + timedelta(seconds=fault.retry_after_date)
                        extra["Retry-After"] = format_datetime(when, usegmt=True)
                    error = json.dumps({"errors": f"injected {fault.name}"}).encode()
                    self._send(fault.status, error, headers=extra)
                elif fault.kind == "reset":
                    self._reset()
                elif fault.kind == "read_timeout":
                    api._closing.wait(api.hold_seconds)
                    self._reset()
                elif fault.kind == "truncated_json":
                    self._send(200, body[: len(body) // 2], headers=headers)
                elif fault.kind == "cut_body":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True  # a polite close, half-way through the body
                elif fault.kind == "html_200":
                    self._send(200, HTML_PAGE, content_type="text/html; charset=utf-8")
                elif fault.kind == "empty_body":
                    self._send(200, b"", headers=headers)
                else:  # pragma: no cover - FaultKind is closed
                    raise AssertionError(fault.kind)

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._send(401, b'{"errors": "Invalid API key or access token"}')
                    return
                url = urlparse(self.path)
                if url.path != "/orders":
                    self._send(404, b'{"errors": "Not Found"}')
                    return
                with api._lock:
                    api.requests.append(self.path)
                    page, records, next_token = api._page(parse_qs(url.query))
                    api.attempts[page] += 1
                    faults = api.plan.wire.get(page, ())
                    attempt = api.attempts[page]
                    fault = faults[attempt - 1] if attempt <= len(faults) else None
                    if fault is not None:
                        api.injected[fault.name] += 1
                body: dict[str, Any] = {"orders": records}
                headers: dict[str, str] = {}
                if api.paging == "cursor":
                    body["next"] = next_token
                elif next_token is not None:
                    query = urlencode(
                        {"limit": parse_qs(url.query)["limit"][0], "page_info": next_token}
                    )
                    headers["Link"] = f'<{api.url}/orders?{query}>; rel="next"'
                data = json.dumps(body).encode()
                if fault is not None:
                    self._fault(fault, data, headers)
                    return
                self._send(200, data, headers=headers)

        return Handler
