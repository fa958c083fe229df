"""The GA4 sandbox behaves like GA4 of apis.md section 3, over real HTTP.

Every test talks to a server on 127.0.0.1 with httpx; expectations come from
the data's pure functions (``GA4Data.day`` and ``GA4Data.visible``), grouped
and summed here, never from the server itself.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import google.auth.transport
import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth import crypt
from google.auth import jwt as google_jwt
from google.oauth2 import service_account

from connectors.ga4.sandbox import GA4Data, GA4Sandbox
from connectors.ga4.sandbox.data import FIRST_TRANSACTION, NOT_SET, Cell

TOKEN = "ya29.test-token-0123456789"
PROPERTY = 409876543
END = date(2025, 4, 30)
DAYS = 60
FIRST = END - timedelta(days=DAYS - 1)
RUN = f"/v1beta/properties/{PROPERTY}:runReport"
TRAFFIC = [
    "date", "sessionSource", "sessionMedium", "sessionCampaignName", "sessionManualAdContent",
    "deviceCategory", "country", "countryId",
]  # fmt: skip
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"


@pytest.fixture(scope="module")
def ga4() -> Iterator[GA4Sandbox]:
    with GA4Sandbox(DAYS, seed=1, token=TOKEN, end=END) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def data() -> GA4Data:
    """An independent generator of the same data (not the server's instance)."""
    return GA4Data(1, start=FIRST)


def client(sandbox: GA4Sandbox, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"})


def body(
    dimensions: list[str],
    metrics: list[str],
    start: str = FIRST.isoformat(),
    end: str = END.isoformat(),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": start, "endDate": end}],
        "dimensions": [{"name": d} for d in dimensions],
        "metrics": [{"name": m} for m in metrics],
        **extra,
    }


def by_all(dimensions: list[str]) -> list[dict[str, Any]]:
    return [{"dimension": {"dimensionName": d}} for d in dimensions]


def read_all(sandbox: GA4Sandbox, request: dict[str, Any], limit: int) -> list[list[str]]:
    """Every row of a report, paged by ``offset`` as apis.md 3.5 says."""
    rows: list[list[str]] = []
    offset = 0
    with client(sandbox) as http:
        while True:
            answer = http.post(RUN, json={**request, "offset": str(offset), "limit": str(limit)})
            assert answer.status_code == 200, answer.text
            page = answer.json()
            if "rows" not in page:
                break
            rows += [flat(r) for r in page["rows"]]
            offset += len(page["rows"])
            if offset >= page["rowCount"]:
                break
    return rows


def flat(row: dict[str, Any]) -> list[str]:
    return [v["value"] for v in row.get("dimensionValues", []) + row.get("metricValues", [])]


def cells(data: GA4Data, end: date = END, revision: int = 0) -> Iterator[tuple[Cell, Any]]:
    """Every cell from FIRST to ``end`` with what GA4 shows of it."""
    day = FIRST
    while day <= end:
        for cell in data.day((day - FIRST).days):
            yield cell, data.visible(cell, (end - day).days + revision)
        day += timedelta(days=1)


def dims(cell: Cell) -> dict[str, str]:
    return {
        "date": cell.day.strftime("%Y%m%d"),
        "sessionSource": cell.channel.source,
        "sessionMedium": cell.channel.medium,
        "sessionCampaignName": cell.channel.campaign,
        "sessionManualAdContent": cell.channel.ad_content,
        "deviceCategory": cell.device,
        "country": cell.country,
        "countryId": cell.country_id,
    }


def money(cents: list[int]) -> str:
    """GA4's rendering of a float sum of ``cents / 100``, added left to right."""
    total = 0.0
    for c in cents:
        total += c / 100
    return str(int(total)) if total.is_integer() else repr(total)


def expected_traffic(
    data: GA4Data, names: list[str], end: date = END, revision: int = 0
) -> dict[tuple[str, ...], list[Any]]:
    groups: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [0, 0, []])
    for cell, seen in cells(data, end, revision):
        key = tuple(dims(cell)[n] for n in names)
        groups[key][0] += seen.sessions
        groups[key][1] += len(seen.purchases)
        groups[key][2] += [p.value_cents for p in seen.purchases]
    return {k: [s, p, money(v)] for k, (s, p, v) in groups.items() if s or p or v}


# ---------------------------------------------------------------------------- auth and errors


def test_missing_or_wrong_token_answers_401_unauthenticated(ga4: GA4Sandbox) -> None:
    request = body(["date"], ["sessions"])
    bare = httpx.post(f"{ga4.url}{RUN}", json=request)
    assert bare.status_code == 401
    assert bare.json()["error"]["status"] == "UNAUTHENTICATED"
    assert bare.json()["error"]["code"] == 401
    with client(ga4, "ya29.not-the-token") as http:
        wrong = http.post(RUN, json=request)
    assert wrong.status_code == 401
    assert "invalid authentication credentials" in wrong.json()["error"]["message"]
    assert "not-the-token" not in wrong.text


def test_another_property_answers_403_permission_denied(ga4: GA4Sandbox) -> None:
    with client(ga4) as http:
        answer = http.post("/v1beta/properties/123:runReport", json=body(["date"], ["sessions"]))
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"].startswith(
        "User does not have sufficient permissions for this property."
    )


@pytest.mark.parametrize(
    ("request_body", "start_of_message"),
    [
        (body(["foo"], ["sessions"]), "Field foo is not a valid dimension."),
        (body(["date"], ["purchases"]), "Field purchases is not a valid metric."),
        (body(["itemId"], ["sessions"]), "Please remove sessions to make the request compatible"),
        (
            body(["date", "itemName"], ["itemRevenue", "purchaseRevenue"]),
            "Please remove purchaseRevenue",
        ),
        (body(["date"], ["sessions"], limit="250001"), "limit 250001 is too large"),
        (body(["date"], ["sessions"], limit=-1), "limit must be positive"),
        (body(["date"], ["sessions"], offset="-5"), "offset must be non-negative"),
        (body(["date"], ["sessions"], limit="ten"), "Invalid value at 'limit'"),
        (body(["date"], ["sessions"], start="2025-02-30"), "Invalid date"),
        (body(["date"], ["sessions"], start="3 days ago"), "Invalid date"),
        (body(["date"], ["sessions"], start="2025-04-02", end="2025-04-01"), "Invalid date range"),
        ({"dimensions": [{"name": "date"}], "metrics": [{"name": "sessions"}]}, "Requests must"),
        (body(["date", "date"], ["sessions"]), "Duplicate dimension"),
        (body(["date", *TRAFFIC[1:], "transactionId", "itemId"], ["itemRevenue"]), "at most 9"),
        (
            body(["date"], ["sessions"], orderBys=[{"metric": {"metricName": "itemRevenue"}}]),
            "Metric itemRevenue in orderBys",
        ),
        (body(["date"], ["sessions"], dimensionFilter={}), "The GA4 sandbox does not implement"),
        (body(["date"], ["sessions"], colour="red"), 'Unknown name "colour"'),
    ],
)
def test_bad_requests_answer_400_invalid_argument_with_gas_message(
    ga4: GA4Sandbox, request_body: dict[str, Any], start_of_message: str
) -> None:
    with client(ga4) as http:
        answer = http.post(RUN, json=request_body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert start_of_message in error["message"], error["message"]


def test_unknown_paths_answer_404(ga4: GA4Sandbox) -> None:
    with client(ga4) as http:
        assert http.get(RUN).status_code == 404
        assert http.post(f"/v1beta/properties/{PROPERTY}:runPivotReport").status_code == 404


# ---------------------------------------------------------------------------- reports


def test_a_paged_traffic_report_holds_exactly_the_datas_cells(
    ga4: GA4Sandbox, data: GA4Data
) -> None:
    metrics = ["sessions", "ecommercePurchases", "purchaseRevenue"]
    request = body(TRAFFIC, metrics, orderBys=by_all(TRAFFIC), returnPropertyQuota=True)
    rows = read_all(ga4, request, limit=1000)
    expected = expected_traffic(data, TRAFFIC)
    assert len(rows) == len(expected) > 3000
    got = {tuple(r[: len(TRAFFIC)]): r[len(TRAFFIC) :] for r in rows}
    assert len(got) == len(rows)  # pages never overlap
    assert got == {k: [str(s), str(p), v] for k, (s, p, v) in expected.items()}
    # ordered by the requested dimensions, ascending
    assert [r[: len(TRAFFIC)] for r in rows] == sorted(r[: len(TRAFFIC)] for r in rows)


def test_totals_match_the_data_in_cents(ga4: GA4Sandbox, data: GA4Data) -> None:
    with client(ga4) as http:
        answer = http.post(RUN, json=body([], ["sessions", "ecommercePurchases", "totalRevenue"]))
    (row,) = answer.json()["rows"]
    sessions, purchases, revenue = flat(row)
    seen = [v for _, v in cells(data)]
    assert int(sessions) == sum(v.sessions for v in seen)
    assert int(purchases) == sum(len(v.purchases) for v in seen)
    cents = sum(p.value_cents for v in seen for p in v.purchases)
    assert Decimal(revenue).quantize(Decimal("0.01")) == Decimal(cents) / 100
    assert "dimensionValues" not in row and "dimensionHeaders" not in answer.json()


def test_number_strings_are_ga4s_shortest_doubles_with_float_noise(
    ga4: GA4Sandbox, data: GA4Data
) -> None:
    with client(ga4) as http:
        answer = http.post(
            RUN, json=body(["date", "sessionSource"], ["purchaseRevenue", "sessions"])
        )
    values = [flat(r)[2] for r in answer.json()["rows"]]
    noisy = [v for v in values if "." in v and len(v.split(".")[1]) > 2]
    assert noisy, "sums of floats must show binary noise somewhere"
    assert all(Decimal(v) != Decimal(v).quantize(Decimal("0.01")) for v in noisy)
    assert "0" in values  # sessions without purchases
    assert all(not v.endswith(".0") for v in values)
    # single purchases: the item prices 241.3 and 96 come out as "241.3"-like strings
    with client(ga4) as http:
        by_transaction = http.post(
            RUN, json=body(["transactionId"], ["purchaseRevenue"], limit=100000)
        ).json()
    singles = {flat(r)[1] for r in by_transaction["rows"] if flat(r)[0] != NOT_SET}
    assert all(re.fullmatch(r"\d+(\.\d{1,2})?", v) for v in singles)
    assert any("." not in v for v in singles) and any(re.search(r"\.\d$", v) for v in singles)
    types = {h["name"]: h["type"] for h in by_transaction["metricHeaders"]}
    assert types == {"purchaseRevenue": "TYPE_CURRENCY"}


def test_the_special_values_of_the_reference_occur(ga4: GA4Sandbox) -> None:
    names = ["sessionSource", "sessionMedium", "sessionCampaignName"]
    with client(ga4) as http:
        rows = {
            tuple(flat(r)[:3])
            for r in http.post(RUN, json=body(names, ["sessions"])).json()["rows"]
        }
        items = [
            flat(r)
            for r in http.post(
                RUN, json=body(["itemId", "itemName", "itemCategory"], ["itemRevenue"])
            ).json()["rows"]
        ]
    assert ("(direct)", "(none)", "(direct)") in rows
    assert ("google", "organic", "(organic)") in rows
    assert any(r[1] == "referral" and r[2] == "(referral)" for r in rows)
    assert (NOT_SET, NOT_SET, NOT_SET) in rows
    assert any(r[:2] == ("awin", "affiliate") for r in rows)
    assert len([r for r in items if r[0] == NOT_SET]) == 2


def test_transaction_ids_are_consecutive_numbers_with_their_channel(
    ga4: GA4Sandbox, data: GA4Data
) -> None:
    names = ["transactionId", "sessionSource", "sessionMedium"]
    rows = read_all(
        ga4,
        body(
            names, ["ecommercePurchases", "purchaseRevenue", "transactions"], orderBys=by_all(names)
        ),
        limit=250,
    )
    expected: dict[tuple[str, ...], list[str]] = {}
    numbers = []
    for cell, seen in cells(data):
        for p in seen.purchases:
            numbers.append(p.number)
            if p.transaction_id != NOT_SET:
                key = (str(p.number), cell.channel.source, cell.channel.medium)
                expected[key] = ["1", money([p.value_cents]), str(int(p.value_cents > 0))]
    tagged = {tuple(r[:3]): r[3:] for r in rows if r[0] != NOT_SET}
    assert tagged == expected
    # the numbering has no gaps across the days that are final
    assert numbers[0] == FIRST_TRANSACTION
    final = [n for n in numbers if n < numbers[-1] - 60]
    assert final == list(range(FIRST_TRANSACTION, FIRST_TRANSACTION + len(final)))
    # purchases sent without a transaction_id fall under "(not set)" with the sessions
    untagged = [r for r in rows if r[0] == NOT_SET and r[3] != "0"]
    assert untagged, "some purchases have no transaction id"
    # a zero-value purchase counts in ecommercePurchases but not in transactions
    assert ["1", "0", "0"] in tagged.values()


def test_item_report_groups_items_and_refuses_session_metrics(
    ga4: GA4Sandbox, data: GA4Data
) -> None:
    names = ["date", "transactionId", "itemId", "itemName", "itemCategory"]
    rows = read_all(
        ga4, body(names, ["itemRevenue", "itemsPurchased"], orderBys=by_all(names)), limit=500
    )
    expected: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [[], 0])
    for cell, seen in cells(data):
        for p in seen.purchases:
            for item in p.items:
                key = (dims(cell)["date"], p.transaction_id, item.item_id, item.name, item.category)
                expected[key][0].append(item.revenue_cents)
                expected[key][1] += item.quantity
    assert {tuple(r[:5]): r[5:] for r in rows} == {
        k: [money(c), str(q)] for k, (c, q) in expected.items()
    }
    assert len(rows) == len(expected)


def test_keep_empty_rows(ga4: GA4Sandbox, data: GA4Data) -> None:
    names = ["date", "sessionSource", "deviceCategory"]
    with client(ga4) as http:
        dropped = http.post(RUN, json=body(names, ["ecommercePurchases"], limit=100000)).json()
        kept = http.post(
            RUN, json=body(names, ["ecommercePurchases"], limit=100000, keepEmptyRows=True)
        ).json()
    purchases: dict[tuple[str, ...], int] = defaultdict(int)
    for cell, seen in cells(data):
        d = dims(cell)
        purchases[(d["date"], d["sessionSource"], d["deviceCategory"])] += len(seen.purchases)
    assert dropped["rowCount"] == sum(1 for v in purchases.values() if v)
    assert kept["rowCount"] == len(purchases) > dropped["rowCount"]
    assert all(flat(r)[3] != "0" for r in dropped["rows"])


def test_paging_rowcount_offset_and_short_pages(data: GA4Data) -> None:
    names = ["date", "deviceCategory"]
    total = len(expected_traffic(data, names))
    with GA4Sandbox(DAYS, token=TOKEN, end=END, max_page_rows=50) as ga4, client(ga4) as http:
        request = body(names, ["sessions"], orderBys=by_all(names))
        first = http.post(RUN, json={**request, "limit": 100}).json()
        assert len(first["rows"]) == 50 and first["rowCount"] == total
        past = http.post(RUN, json={**request, "offset": total + 5}).json()
        assert "rows" not in past and past["rowCount"] == total
        rows = read_all(ga4, request, limit=100)
        assert len(rows) == total
        pages = [r for r in ga4.requests if r.path == RUN]
        assert len(pages) == 2 + -(-total // 50)


def test_an_empty_report_has_no_rows_and_no_rowcount(ga4: GA4Sandbox) -> None:
    with client(ga4) as http:
        answer = http.post(
            RUN, json=body(["date"], ["sessions"], start="2024-01-01", end="2024-01-31")
        ).json()
    assert "rows" not in answer and "rowCount" not in answer
    assert answer["metadata"] == {"currencyCode": "EUR", "timeZone": "Europe/Vienna"}
    assert answer["kind"] == "analyticsData#runReport"
    assert "propertyQuota" not in answer


def test_relative_dates_count_from_the_sandboxs_today(ga4: GA4Sandbox, data: GA4Data) -> None:
    with client(ga4) as http:
        for start, end, first, last in (
            ("today", "today", END, END),
            ("yesterday", "yesterday", END - timedelta(1), END - timedelta(1)),
            ("7daysAgo", "yesterday", END - timedelta(7), END - timedelta(1)),
            ("0daysAgo", "today", END, END),
        ):
            rows = http.post(RUN, json=body(["date"], ["sessions"], start=start, end=end)).json()
            got = sorted(flat(r)[0] for r in rows["rows"])
            want = [
                (first + timedelta(i)).strftime("%Y%m%d") for i in range((last - first).days + 1)
            ]
            assert got == want, (start, end)
        future = http.post(RUN, json=body(["date"], ["sessions"], start="today", end="2099-01-01"))
    assert [flat(r)[0] for r in future.json()["rows"]] == [END.strftime("%Y%m%d")]


def test_order_bys_and_the_default_order(ga4: GA4Sandbox) -> None:
    names = ["sessionSource", "deviceCategory"]
    with client(ga4) as http:
        default = [flat(r) for r in http.post(RUN, json=body(names, ["sessions"])).json()["rows"]]
        by_metric = [
            flat(r)
            for r in http.post(
                RUN,
                json=body(
                    names,
                    ["sessions"],
                    orderBys=[{"metric": {"metricName": "sessions"}, "desc": False}],
                ),
            ).json()["rows"]
        ]
        by_dimension = [
            flat(r)
            for r in http.post(
                RUN,
                json=body(
                    names,
                    ["sessions"],
                    orderBys=[
                        {
                            "dimension": {
                                "dimensionName": "sessionSource",
                                "orderType": "CASE_INSENSITIVE_ALPHANUMERIC",
                            },
                            "desc": True,
                        }
                    ],
                ),
            ).json()["rows"]
        ]
    sessions = [int(r[2]) for r in default]
    assert sessions == sorted(sessions, reverse=True)
    assert [int(r[2]) for r in by_metric] == sorted(sessions)
    sources = [r[0].casefold() for r in by_dimension]
    assert sources == sorted(sources, reverse=True)


# ---------------------------------------------------------------------------- revisions


def test_recent_days_are_revised_and_older_days_stay(data: GA4Data) -> None:
    names = ["date"]
    metrics = ["sessions", "ecommercePurchases", "purchaseRevenue"]
    request = body(names, metrics, orderBys=by_all(names))
    with GA4Sandbox(DAYS, token=TOKEN, end=END) as ga4:
        before = {r[0]: r[1:] for r in read_all(ga4, request, 1000)}
        ga4.revise()
        after = {r[0]: r[1:] for r in read_all(ga4, request, 1000)}
        changed = {d for d in before if before[d] != after[d]}
        assert changed and all(
            date(int(d[:4]), int(d[4:6]), int(d[6:])) > END - timedelta(3) for d in changed
        )
        assert after == {
            k[0]: [str(s), str(p), v]
            for k, (s, p, v) in expected_traffic(data, names, revision=1).items()
        }
        assert int(after[END.strftime("%Y%m%d")][0]) > int(before[END.strftime("%Y%m%d")][0])
        ga4.advance(2)
        request["dateRanges"] = [{"startDate": FIRST.isoformat(), "endDate": "today"}]
        later = {r[0]: r[1:] for r in read_all(ga4, request, 1000)}
        assert ga4.end == END + timedelta(2)
        assert len(later) == DAYS + 2
        assert later == {
            k[0]: [str(s), str(p), v]
            for k, (s, p, v) in expected_traffic(data, names, END + timedelta(2), 1).items()
        }


def test_the_data_is_a_pure_function_of_the_seed() -> None:
    one = GA4Data(1, start=FIRST)
    again = GA4Data(1, start=FIRST)
    other = GA4Data(2, start=FIRST)
    assert [one.day(i) for i in (0, 7, 59)] == [again.day(i) for i in (0, 7, 59)]
    assert one.day(59) != other.day(59)
    # a later end adds days and changes none: day 10 alone equals day 10 after day 59
    fresh = GA4Data(1, start=FIRST)
    assert fresh.day(10) == one.day(10)


# ---------------------------------------------------------------------------- quota and 429


def test_property_quota_decrements_and_concurrent_requests_have_no_consumed(
    ga4: GA4Sandbox,
) -> None:
    request = body(["date"], ["sessions"], returnPropertyQuota=True)
    with client(ga4) as http:
        first = http.post(RUN, json=request).json()["propertyQuota"]
        second = http.post(RUN, json=request).json()["propertyQuota"]
    for name in ("tokensPerDay", "tokensPerHour", "tokensPerProjectPerHour"):
        assert second[name]["consumed"] >= 1
        assert second[name]["remaining"] == first[name]["remaining"] - second[name]["consumed"]
    assert second["concurrentRequests"] == {"remaining": 10}
    assert set(second) == {
        "tokensPerDay", "tokensPerHour", "concurrentRequests", "serverErrorsPerProjectPerHour",
        "potentiallyThresholdedRequestsPerHour", "tokensPerProjectPerHour",
    }  # fmt: skip


def test_an_hourly_quota_runs_out_and_comes_back_after_an_hour() -> None:
    now = [1000.0]
    with (
        GA4Sandbox(10, token=TOKEN, end=END, tokens_per_hour=3, clock=lambda: now[0]) as ga4,
        client(ga4) as http,
    ):
        request = body(["date"], ["sessions"], start="today", end="today")
        assert [http.post(RUN, json=request).status_code for _ in range(3)] == [200] * 3
        refused = http.post(RUN, json=request)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        assert error["message"].startswith("Exhausted property tokens per hour.")
        now[0] += 3600
        assert http.post(RUN, json=request).status_code == 200


def test_injected_429s_are_concurrent_request_refusals() -> None:
    with GA4Sandbox(5, token=TOKEN, end=END, inject_429_every=3) as ga4, client(ga4) as http:
        request = body(["date"], ["sessions"])
        statuses = [http.post(RUN, json=request).status_code for _ in range(6)]
        refused = http.post(RUN, json=request)
    assert statuses == [200, 200, 429, 200, 200, 429]
    assert refused.status_code == 200
    with GA4Sandbox(5, token=TOKEN, end=END, inject_429_every=2) as ga4, client(ga4) as http:
        http.post(RUN, json=request)
        answer = http.post(RUN, json=request)
    assert answer.json() == {
        "error": {
            "code": 429,
            "message": "Exhausted concurrent requests quota.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }


# ---------------------------------------------------------------------------- OAuth token


class _HttpxResponse(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Any:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google.auth.transport.Request):
    """google-auth's transport interface over httpx (the venv has no requests/urllib3)."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        return _HttpxResponse(
            httpx.request(method, url, content=body, headers=headers, timeout=timeout or 10)
        )


def test_google_auth_service_account_credentials_refresh_against_the_sandbox(
    ga4: GA4Sandbox,
) -> None:
    info = ga4.service_account_info()
    assert info["type"] == "service_account" and info["token_uri"] == f"{ga4.url}/token"
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    credentials.refresh(HttpxRequest())
    assert credentials.token and credentials.token != TOKEN and credentials.valid
    with client(ga4, credentials.token) as http:
        assert http.post(RUN, json=body(["date"], ["sessions"])).status_code == 200


def _assertion(ga4: GA4Sandbox, key: Any = None, **claims: Any) -> str:
    info = ga4.service_account_info()
    signer = (
        crypt.RSASigner.from_service_account_info(info)
        if key is None
        else crypt.RSASigner.from_string(key)
    )
    now = int(time.time())
    payload = {
        "iss": info["client_email"], "aud": info["token_uri"], "scope": SCOPE,
        "iat": now, "exp": now + 3600, **claims,
    }  # fmt: skip
    return google_jwt.encode(signer, {k: v for k, v in payload.items() if v is not None}).decode()


def _exchange(ga4: GA4Sandbox, assertion: str, grant: str | None = None) -> httpx.Response:
    return httpx.post(
        ga4.token_url,
        data={
            "grant_type": grant or "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion,
        },
    )


def test_the_token_endpoint_checks_signature_and_claims(ga4: GA4Sandbox) -> None:
    good = _exchange(ga4, _assertion(ga4))
    assert good.status_code == 200
    # google-auth signs for Google's endpoint whatever token_uri says; that audience is fine
    google_aud = _exchange(ga4, _assertion(ga4, aud="https://oauth2.googleapis.com/token"))
    assert google_aud.status_code == 200
    assert set(good.json()) == {"access_token", "expires_in", "token_type"}
    assert good.json()["expires_in"] == 3599 and good.json()["token_type"] == "Bearer"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    now = int(time.time())
    cases = {
        "a stranger's key": (_assertion(ga4, key=pem), "invalid_grant", "Invalid JWT Signature."),
        "another audience": (
            _assertion(ga4, aud="https://login.example.com/token"),
            "invalid_grant",
            None,
        ),
        "expired": (_assertion(ga4, iat=now - 7200, exp=now - 3600), "invalid_grant", None),
        "too long": (_assertion(ga4, exp=now + 7200), "invalid_grant", None),
        "no scope": (_assertion(ga4, scope=None), "invalid_scope", None),
        "another scope": (
            _assertion(ga4, scope="https://www.googleapis.com/auth/drive"),
            "invalid_scope",
            None,
        ),
        "another account": (_assertion(ga4, iss="someone@else.example"), "invalid_grant", None),
        "not a JWT": ("abc.def", "invalid_grant", None),
    }
    for case, (assertion, error, description) in cases.items():
        answer = _exchange(ga4, assertion)
        assert answer.status_code == 400, case
        assert answer.json()["error"] == error, case
        assert answer.json()["error_description"], case
        if description:
            assert answer.json()["error_description"] == description
    # a tampered payload with the original signature fails too
    head, _, sig = _assertion(ga4).split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"iss": "x", "scope": SCOPE}).encode()).rstrip(
        b"="
    )
    assert _exchange(ga4, f"{head}.{forged.decode()}.{sig}").json()["error"] == "invalid_grant"
    wrong_grant = _exchange(ga4, _assertion(ga4), grant="refresh_token")
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


def test_the_sandbox_key_really_signs(ga4: GA4Sandbox) -> None:
    """The JSON key holds a working private key whose public half the sandbox checks with."""
    key = serialization.load_pem_private_key(
        ga4.service_account_info()["private_key"].encode(), None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, b"x", padding.PKCS1v15(), hashes.SHA256())


# ---------------------------------------------------------------------------- Measurement Protocol


def purchase(tid: str = "2042", **params: Any) -> dict[str, Any]:
    return {
        "name": "purchase",
        "params": {
            "transaction_id": tid,
            "value": 241.3,
            "currency": "EUR",
            "items": [{"item_id": "GLE-ZELT-2", "item_name": "Zelt Gletscher 2P", "price": 241.3}],
            **params,
        },
    }


def collect(ga4: GA4Sandbox, payload: Any, *, debug: bool = False, secret: str = "") -> Any:
    path = "/debug/mp/collect" if debug else "/mp/collect"
    return httpx.post(
        f"{ga4.url}{path}",
        params={"measurement_id": ga4.measurement_id, "api_secret": secret or ga4.api_secret},
        content=payload if isinstance(payload, bytes) else orjson.dumps(payload),
        headers={"Content-Type": "application/json"},
    )


def test_collect_answers_204_and_keeps_valid_events() -> None:
    with GA4Sandbox(3, end=END) as ga4:
        stamp = int(time.time() * 1_000_000) - 3600 * 1_000_000
        good = {
            "client_id": "123.456",
            "timestamp_micros": stamp,
            "events": [purchase("2042"), {"name": "purchase", "params": {"value": 5}}],
        }
        answer = collect(ga4, good)
        assert answer.status_code == 204 and answer.content == b""
        assert [(e.name, e.params["transaction_id"]) for e in ga4.mp_events] == [
            ("purchase", "2042")
        ]
        assert ga4.mp_events[0].client_id == "123.456"
        assert ga4.mp_events[0].timestamp_micros == stamp
        assert len(ga4.mp_dropped) == 1 and "transaction_id" in ga4.mp_dropped[0].reason
        # a wrong secret, no client_id, not JSON: still 2xx, and nothing kept
        assert collect(ga4, good, secret="wrong").status_code == 204
        assert collect(ga4, {"events": [purchase()]}).status_code == 204
        assert collect(ga4, b"{not json").status_code == 204
        assert len(ga4.mp_events) == 1
        reasons = [d.reason for d in ga4.mp_dropped[1:]]
        assert reasons[0] == "wrong api_secret"
        assert reasons[1].startswith("invalid request") and "client_id" in reasons[1]
        assert reasons[2].startswith("invalid request")


def _codes(ga4: GA4Sandbox, payload: Any) -> list[tuple[str, str]]:
    answer = collect(ga4, payload, debug=True)
    assert answer.status_code == 200
    return [(m["fieldPath"], m["validationCode"]) for m in answer.json()["validationMessages"]]


def test_the_validation_server_reports_each_rule(ga4: GA4Sandbox) -> None:
    old = int(time.time() * 1_000_000) - 73 * 3600 * 1_000_000
    assert _codes(ga4, {"client_id": "1", "events": [purchase()]}) == []
    assert collect(ga4, {"client_id": "1", "events": []}, debug=True).json() == {
        "validationMessages": [
            {
                "fieldPath": "events",
                "description": "Measurement requires a non-empty events list.",
                "validationCode": "VALUE_REQUIRED",
            }
        ]
    }
    cases: list[tuple[Any, list[tuple[str, str]]]] = [
        ({"events": [purchase()]}, [("client_id", "VALUE_REQUIRED")]),
        (
            {"client_id": "1", "events": [purchase(str(i)) for i in range(26)]},
            [("events", "EXCEEDED_MAX_ENTITIES")],
        ),
        ({"client_id": "1", "events": [{"name": "_bad"}]}, [("events", "NAME_INVALID")]),
        ({"client_id": "1", "events": [{"name": "bad-name"}]}, [("events", "NAME_INVALID")]),
        ({"client_id": "1", "events": [{"name": "a" * 41}]}, [("events", "NAME_INVALID")]),
        ({"client_id": "1", "events": [{"name": "a" * 40}]}, []),
        ({"client_id": "1", "events": [{"name": "session_start"}]}, [("events", "NAME_RESERVED")]),
        ({"client_id": "1", "events": [{"name": "google_thing"}]}, [("events", "NAME_RESERVED")]),
        (
            {"client_id": "1", "events": [purchase(currency="euro")]},
            [("events[0].params.currency", "VALUE_INVALID")],
        ),
        (
            {"client_id": "1", "events": [purchase(tid="")]},
            [("events[0].params.transaction_id", "VALUE_REQUIRED")],
        ),
        (
            {"client_id": "1", "events": [purchase(items=[{"item_id": "A"}, {"price": 3}])]},
            [("events[0].params.items[1]", "VALUE_REQUIRED")],
        ),
        (
            {"client_id": "1", "timestamp_micros": old, "events": [purchase()]},
            [("timestamp_micros", "VALUE_INVALID")],
        ),
        (
            {"client_id": "1", "events": [{**purchase(), "timestamp_micros": old}]},
            [("events[0].timestamp_micros", "VALUE_INVALID")],
        ),
    ]
    for payload, expected in cases:
        assert _codes(ga4, payload) == expected, payload
    no_currency = purchase()
    del no_currency["params"]["currency"]
    assert _codes(ga4, {"client_id": "1", "events": [no_currency]}) == [
        ("events[0].params.currency", "VALUE_REQUIRED")
    ]
    huge = orjson.dumps({"client_id": "1", "events": [purchase(note="x" * 140_000)]})
    assert _codes(ga4, huge) == [("", "VALUE_OUT_OF_BOUNDS")]
    # the validation server keeps nothing and does not check the secret
    before = len(ga4.mp_events)
    assert collect(
        ga4, {"client_id": "1", "events": [purchase()]}, debug=True, secret="x"
    ).json() == {"validationMessages": []}
    assert len(ga4.mp_events) == before


# ---------------------------------------------------------------------------- command line


def test_the_command_line_serves_until_a_signal() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.ga4.sandbox", "--port", "0", "--days", "5",
         "--end", "2025-04-30", "--token", "tok"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), first
        answer = httpx.post(
            f"{url}{RUN}",
            json=body(["date"], ["sessions"], start="2025-04-01", end="2025-04-30"),
            headers={"Authorization": "Bearer tok"},
        )
        assert len(answer.json()["rows"]) == 5
        printed = [process.stdout.readline() for _ in range(11)]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert "  access_token: tok\n" in printed and f"  property_id: {PROPERTY}\n" in printed
    assert "  start_date: 2025-04-26\n" in printed
    assert "stopped" in out
