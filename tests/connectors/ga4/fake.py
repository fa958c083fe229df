"""A small in-process fake of the GA4 Data API's runReport (apis.md 3.3-3.7) for MockTransport.

It groups its rows by the requested dimensions, sums the metrics as Python
floats (which is how GA4's answers come to show ``1024.7000000000001``),
orders by ``orderBys``, pages with ``offset``/``limit``, renders every value as
a string, leaves out defaults as proto3 does, and reports ``propertyQuota``.
Scripted failures (``fail_next``) come before the normal answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import orjson

PROPERTY = 409876543
TOKEN = "ya29.fake-ga4-token-0123456789"
INTEGER_METRICS = {"sessions", "ecommercePurchases", "itemsPurchased", "transactions"}
ITEM_SCOPED = {"itemId", "itemName", "itemCategory", "itemRevenue", "itemsPurchased"}


def google_error(code: int, status: str, message: str) -> httpx.Response:
    return httpx.Response(
        code, json={"error": {"code": code, "message": message, "status": status}}
    )


class FakeGA4:
    def __init__(self, rows: list[dict[str, Any]], *, time_zone: str = "Europe/Vienna") -> None:
        self.rows = rows
        self.time_zone = time_zone
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []
        self.fail_next: list[httpx.Response] = []
        self.max_page_rows: int | None = None
        self.tokens_per_hour = 40_000
        self.consumed = 0
        self.token = TOKEN

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if request.url.path != f"/v1beta/properties/{PROPERTY}:runReport":
            return google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more "
                "about Property ID, see https://developers.google.com/analytics/devguides/"
                "reporting/data/v1/property-id.",
            )
        if self.fail_next:
            return self.fail_next.pop(0)
        body = orjson.loads(request.content)
        self.bodies.append(body)
        return httpx.Response(200, json=self.answer(body))

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        dims = [d["name"] for d in body["dimensions"]]
        mets = [m["name"] for m in body["metrics"]]
        (dates,) = body["dateRanges"]
        start, end = date.fromisoformat(dates["startDate"]), date.fromisoformat(dates["endDate"])
        groups: dict[tuple[str, ...], list[float]] = {}
        for row in self.rows:
            day = date.fromisoformat(row["date"])
            if not start <= day <= end:
                continue
            key = tuple(
                day.strftime("%Y%m%d") if d == "date" else str(row.get(d, "(not set)"))
                for d in dims
            )
            sums = groups.setdefault(key, [0.0] * len(mets))
            for n, m in enumerate(mets):
                sums[n] += float(row.get(m, 0))
        ordered = sorted((k, v) for k, v in groups.items() if body.get("keepEmptyRows") or any(v))
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 10_000)
        if self.max_page_rows is not None:
            limit = min(limit, self.max_page_rows)
        page = ordered[offset : offset + limit]
        self.consumed += 5
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims],
            "metricHeaders": [
                {"name": m, "type": "TYPE_INTEGER" if m in INTEGER_METRICS else "TYPE_CURRENCY"}
                for m in mets
            ],
            "metadata": {"currencyCode": "EUR", "timeZone": self.time_zone},
            "kind": "analyticsData#runReport",
        }
        if page:
            answer["rows"] = [
                {
                    "dimensionValues": [{"value": v} for v in key],
                    "metricValues": [
                        {"value": render(v, m in INTEGER_METRICS)}
                        for v, m in zip(vals, mets, strict=True)
                    ],
                }
                for key, vals in page
            ]
        if ordered:
            answer["rowCount"] = len(ordered)
        if body.get("returnPropertyQuota"):
            # ``consumed`` is what this request cost, ``remaining`` what is left after it
            answer["propertyQuota"] = {
                "tokensPerDay": {"consumed": 5, "remaining": 200_000 - self.consumed},
                "tokensPerHour": {
                    "consumed": 5,
                    "remaining": max(self.tokens_per_hour - self.consumed, 0),
                },
                "concurrentRequests": {"remaining": 10},
                "tokensPerProjectPerHour": {"consumed": 5, "remaining": 13_000},
            }
        return answer


def render(value: float, integer: bool) -> str:
    """A metric as GA4 sends it: ``"88"``, ``"241.3"``, ``"96"``, ``"1024.7000000000001"``."""
    if integer:
        return str(int(value))
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def days(start: date, count: int) -> list[str]:
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


Handler = Callable[[httpx.Request], httpx.Response]
