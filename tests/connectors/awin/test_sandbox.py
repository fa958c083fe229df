"""The Awin sandbox behaves like the Awin API of apis.md section 2, over real HTTP.

Every test talks to a server on 127.0.0.1 with httpx; expectations come from
the generator's pure functions (``AwinData`` and the transactions' facts),
never from the server itself.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from connectors.awin.sandbox import AwinData, AwinSandbox
from connectors.awin.sandbox.data import START, TIMEZONES, Facts
from connectors.awin.sandbox.server import UNAUTHORIZED

TOKEN = "awin_test_token_0123456789"
COUNT = 300
ADVERTISER = 15880
PUBLISHER = 300401
LIST = f"/advertisers/{ADVERTISER}/transactions/"
#: the field list of apis.md 2.4, in the reference's order
FIELDS = [
    "id", "url", "advertiserId", "publisherId", "commissionSharingPublisherId",
    "commissionSharingSelectedRatePublisherId", "campaign", "siteName", "commissionStatus",
    "commissionAmount", "saleAmount", "ipHash", "customerCountry", "clickRefs", "clickDate",
    "transactionDate", "validationDate", "type", "declineReason", "voucherCodeUsed",
    "voucherCode", "lapseTime", "amended", "amendReason", "oldSaleAmount",
    "oldCommissionAmount", "clickDevice", "transactionDevice", "customerAcquisition",
    "publisherUrl", "advertiserCountry", "orderRef", "customParameters", "transactionParts",
    "paidToPublisher", "paymentId", "transactionQueryId", "trackedCurrencyAmount",
    "originalSaleAmount", "advertiserCost", "networkFee", "basketProducts",
]  # fmt: skip
PART_FIELDS = {
    "commissionGroupId", "commissionGroupCode", "commissionGroupName", "amount",
    "commissionAmount", "advertiserCost", "trackedParts",
}  # fmt: skip
PRODUCT_FIELDS = {
    "productId", "productName", "unitPrice", "quantity", "skuCode", "commissionGroupCode",
    "category",
}  # fmt: skip
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


@pytest.fixture(scope="module")
def awin() -> Iterator[AwinSandbox]:
    with AwinSandbox(COUNT, token=TOKEN, seed=1) as sandbox:
        yield sandbox


def client(sandbox: AwinSandbox, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"})


def window(start: str, end: str, **params: str) -> dict[str, str]:
    return {"startDate": start, "endDate": end, **params}


def instant(text: str, tz: str) -> int:
    """An offset-less Awin datetime read in ``tz`` as epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp())


def epoch(text: str, tz: str = "UTC") -> int:
    return instant(text, tz)


def read_all(sandbox: AwinSandbox, **params: str) -> list[dict[str, Any]]:
    """Every transaction from March to mid-May 2025, in 31-day windows."""
    found: list[dict[str, Any]] = []
    start = datetime(2025, 2, 25)
    with client(sandbox) as http:
        while start < datetime(2025, 6, 1):
            end = start + timedelta(days=31)
            response = http.get(
                LIST,
                params=window(
                    start.isoformat(), (end - timedelta(seconds=1)).isoformat(), **params
                ),
            )
            assert response.status_code == 200, response.text
            found.extend(response.json())
            start = end
    return found


@pytest.fixture(scope="module")
def everything(awin: AwinSandbox) -> list[dict[str, Any]]:
    return read_all(awin, showBasketProducts="true")


def cents(amount: Any) -> int:
    assert isinstance(amount, int | float) and not isinstance(amount, bool), amount
    value = Decimal(str(amount)) * 100
    assert value == value.to_integral_value(), amount
    return int(value)


# ---------------------------------------------------------------------------- auth, accounts


def test_a_missing_or_wrong_token_answers_401_with_awins_body(awin: AwinSandbox) -> None:
    params = window("2025-03-01T00:00:00", "2025-03-02T00:00:00")
    bare = httpx.get(f"{awin.url}{LIST}", params=params)
    assert bare.status_code == 401
    assert (
        bare.json()
        == UNAUTHORIZED
        == {
            "error": "unauthorized",
            "description": "Full authentication is required to access this resource",
        }
    )
    with client(awin, "not-the-token") as http:
        assert http.get(LIST, params=params).status_code == 401
    # the documented query-parameter form works too
    query = httpx.get(f"{awin.url}{LIST}", params={**params, "accessToken": TOKEN})
    assert query.status_code == 200
    assert "not-the-token" not in bare.text


def test_accounts_the_user_cannot_reach_answer_403(awin: AwinSandbox) -> None:
    params = window("2025-03-01T00:00:00", "2025-03-02T00:00:00")
    with client(awin) as http:
        for path in ("/advertisers/15881/transactions/", "/publishers/300402/transactions/"):
            response = http.get(path, params=params)
            assert response.status_code == 403, path
            assert set(response.json()) == {"error", "description"}
        assert http.get("/advertisers/15881/publishers").status_code == 403


def test_accounts_endpoint_lists_both_accounts_and_filters_by_type(awin: AwinSandbox) -> None:
    with client(awin) as http:
        everything = http.get("/accounts").json()
        advertisers = http.get("/accounts", params={"type": "advertiser"}).json()
        bad = http.get("/accounts", params={"type": "merchant"})
    assert everything["userId"] == 1234
    assert [(a["accountId"], a["accountType"]) for a in everything["accounts"]] == [
        (ADVERTISER, "advertiser"),
        (PUBLISHER, "publisher"),
    ]
    assert set(everything["accounts"][0]) == {"accountId", "accountName", "accountType", "userRole"}
    assert [a["accountId"] for a in advertisers["accounts"]] == [ADVERTISER]
    assert bad.status_code == 400


def test_unknown_paths_and_a_missing_trailing_slash_answer_404(awin: AwinSandbox) -> None:
    params = window("2025-03-01T00:00:00", "2025-03-02T00:00:00")
    with client(awin) as http:
        no_slash = http.get(f"/advertisers/{ADVERTISER}/transactions", params=params)
        unknown = http.get("/advertisers/15880/nothing")
        post = http.post(LIST, json={})
    assert no_slash.status_code == 404
    assert no_slash.json()["error"] == "exception"
    assert unknown.status_code == 404
    assert post.status_code == 404


# ---------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"endDate": "2025-03-02T00:00:00"}, "startDate is required"),
        ({"startDate": "2025-03-02T00:00:00"}, "endDate is required"),
        (window("2025-03-01", "2025-03-02T00:00:00"), "format"),
        (window("2025-03-01T00:00:00+01:00", "2025-03-02T00:00:00"), "format"),
        (window("2025-03-05T00:00:00", "2025-03-02T00:00:00"), "before"),
        (window("2025-03-01T00:00:00", "2025-04-01T00:00:01"), "31 days"),
        (window("2025-03-01T00:00:00", "2025-03-02T00:00:00", timezone="Europe/Vienna"), "Vienna"),
        (window("2025-03-01T00:00:00", "2025-03-02T00:00:00", timezone="utc"), "timezone"),
        (window("2025-03-01T00:00:00", "2025-03-02T00:00:00", dateType="click"), "dateType"),
        (window("2025-03-01T00:00:00", "2025-03-02T00:00:00", status="paid"), "status"),
        (window("2025-03-01T00:00:00", "2025-03-02T00:00:00", publisherId="x"), "publisherId"),
    ],
)
def test_bad_parameters_answer_400_saying_what_is_wrong(
    awin: AwinSandbox, params: dict[str, str], complaint: str
) -> None:
    with client(awin) as http:
        response = http.get(LIST, params=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "description"}
    assert complaint in body["description"]


def test_a_window_of_exactly_31_days_is_allowed(awin: AwinSandbox) -> None:
    with client(awin) as http:
        response = http.get(LIST, params=window("2025-03-01T00:00:00", "2025-04-01T00:00:00"))
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def expected_ids(facts: list[Facts], start: int, end: int) -> set[int]:
    return {f.id for f in facts if start <= f.transaction_at <= end}


def test_a_window_holds_exactly_the_transactions_made_in_it(awin: AwinSandbox) -> None:
    facts = awin.facts()
    with client(awin) as http:
        for start, end in [
            ("2025-03-01T00:00:00", "2025-03-31T23:59:59"),
            ("2025-03-10T06:00:00", "2025-03-12T18:30:00"),
            ("2025-04-05T00:00:00", "2025-05-05T00:00:00"),
        ]:
            body = http.get(LIST, params=window(start, end)).json()
            ids = [t["id"] for t in body]
            assert len(ids) == len(set(ids))
            assert set(ids) == expected_ids(facts, epoch(start), epoch(end))
            assert ids, (start, end)


def test_windows_cover_every_transaction_once_unsorted(everything: list[dict[str, Any]]) -> None:
    ids = [t["id"] for t in everything]
    assert len(ids) == COUNT == len(set(ids))
    # apis.md 2.7 #7: the array is not sorted, neither by id nor by date
    first = everything[:50]
    assert [t["id"] for t in first] != sorted(t["id"] for t in first)
    dates = [t["transactionDate"] for t in first]
    assert dates != sorted(dates)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "US/Pacific", "Europe/London", "Canada/Eastern"])
def test_dates_are_rendered_without_offset_in_the_requested_zone(
    awin: AwinSandbox, tz: str
) -> None:
    facts = {f.id: f for f in awin.facts()}
    start, end = "2025-03-05T00:00:00", "2025-04-05T00:00:00"
    with client(awin) as http:
        local = http.get(LIST, params=window(start, end, timezone=tz)).json()
        utc = http.get(LIST, params=window(start, end, timezone="UTC")).json()
    # the window is read in the zone too
    assert {t["id"] for t in local} == expected_ids(
        list(facts.values()), instant(start, tz), instant(end, tz)
    )
    # a one-minute window at a transaction's local time finds it only when read in the zone
    f = next(f for f in facts.values() if f.transaction_at > epoch("2025-04-01T00:00:00"))
    at = datetime.fromtimestamp(f.transaction_at, ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M:%S")
    with client(awin) as http:
        here = http.get(LIST, params=window(at, at, timezone=tz)).json()
        there = http.get(LIST, params=window(at, at, timezone="UTC")).json()
    assert f.id in {t["id"] for t in here}
    assert f.id not in {t["id"] for t in there}
    assert len(local) > 50 and {t["id"] for t in utc} == expected_ids(
        list(facts.values()), epoch(start), epoch(end)
    )
    offsets = set()
    for t in local:
        for field in ("clickDate", "transactionDate", "validationDate"):
            assert t[field] is None or DATETIME.match(t[field]), t[field]
        f = facts[t["id"]]
        assert instant(t["transactionDate"], tz) == f.transaction_at
        expected = datetime.fromtimestamp(f.transaction_at, ZoneInfo(tz))
        assert t["transactionDate"] == expected.strftime("%Y-%m-%dT%H:%M:%S")
        offsets.add(expected.utcoffset())
        if t["validationDate"] is not None:
            assert instant(t["validationDate"], tz) == f.validated_at
    # the window spans the switch to summer time (US on 9 March, Europe on 30 March)
    assert len(offsets) == 2, offsets


def test_timezone_defaults_to_utc(awin: AwinSandbox) -> None:
    params = window("2025-03-20T00:00:00", "2025-03-25T00:00:00")
    with client(awin) as http:
        default = http.get(LIST, params=params).json()
        utc = http.get(LIST, params={**params, "timezone": "UTC"}).json()
    assert default == utc


def test_every_documented_timezone_is_accepted(awin: AwinSandbox) -> None:
    with client(awin) as http:
        for tz in TIMEZONES:
            response = http.get(
                LIST, params=window("2025-03-01T00:00:00", "2025-03-01T06:00:00", timezone=tz)
            )
            assert response.status_code == 200, tz


# ---------------------------------------------------------------------------- filters


def test_date_type_selects_the_date_the_window_applies_to(awin: AwinSandbox) -> None:
    facts = awin.facts()
    now = int(awin.now.timestamp())
    start, end = "2025-04-01T00:00:00", "2025-04-30T23:59:59"
    lo, hi = epoch(start), epoch(end)
    with client(awin) as http:

        def ids(date_type: str) -> set[int]:
            response = http.get(LIST, params=window(start, end, dateType=date_type))
            assert response.status_code == 200
            return {t["id"] for t in response.json()}

        validated = ids("validation")
        amended = ids("amendment")
        transacted = ids("transaction")
    assert transacted == expected_ids(facts, lo, hi)
    assert validated == {
        f.id
        for f in facts
        if f.status(now) != "pending" and f.validated_at is not None and lo <= f.validated_at <= hi
    }
    assert amended == {
        f.id
        for f in facts
        if f.amended(now) and f.amended_at is not None and lo <= f.amended_at <= hi
    }
    assert validated and amended
    assert validated != transacted
    assert amended <= validated  # amendments happen on approval in the sandbox


def test_status_and_publisher_filters(everything: list[dict[str, Any]], awin: AwinSandbox) -> None:
    start, end = "2025-03-01T00:00:00", "2025-03-31T23:59:59"
    with client(awin) as http:
        declined = http.get(LIST, params=window(start, end, status="declined")).json()
        chosen = http.get(LIST, params=window(start, end, publisherId="300402,300404")).json()
        deleted = http.get(LIST, params=window(start, end, status="deleted")).json()
    in_march = [t for t in everything if t["transactionDate"] <= "2025-03-31T23:59:59"]
    assert {t["id"] for t in declined} == {
        t["id"] for t in in_march if t["commissionStatus"] == "declined"
    }
    assert declined
    assert {t["id"] for t in chosen} == {
        t["id"] for t in in_march if t["publisherId"] in (300402, 300404)
    }
    assert deleted == []


def test_transactions_by_id(awin: AwinSandbox) -> None:
    data = awin.data
    now = int(awin.now.timestamp())
    with client(awin) as http:
        response = http.get(
            f"/advertisers/{ADVERTISER}/transactions",
            params={"ids": "3050000005,3050000007,1", "timezone": "Europe/Paris"},
        )
    assert response.status_code == 200
    body = sorted(response.json(), key=lambda t: t["id"])
    assert body == [data.transaction(i, now=now, tz="Europe/Paris") for i in (5, 7)]


# ---------------------------------------------------------------------------- shapes


def test_every_transaction_has_the_reference_fields_and_types(
    everything: list[dict[str, Any]],
) -> None:
    for t in everything:
        assert list(t) == FIELDS
        assert isinstance(t["id"], int) and isinstance(t["publisherId"], int)
        assert t["advertiserId"] == ADVERTISER and t["advertiserCountry"] == "AT"
        assert t["commissionStatus"] in ("pending", "approved", "declined")
        for money in ("commissionAmount", "saleAmount"):
            assert set(t[money]) == {"amount", "currency"} and t[money]["currency"] == "EUR"
        assert re.fullmatch(r"-?\d+", t["ipHash"])
        assert DATETIME.match(t["clickDate"]) and DATETIME.match(t["transactionDate"])
        assert t["clickDate"] <= t["transactionDate"]
        assert isinstance(t["lapseTime"], int) and t["lapseTime"] > 0
        assert isinstance(t["paymentId"], int) and isinstance(t["transactionQueryId"], int)
        assert t["paidToPublisher"] is (t["paymentId"] != 0)
        assert t["advertiserCost"] == {"amount": None, "currency": None}
        assert t["voucherCodeUsed"] is (t["voucherCode"] is not None)
        assert t["customParameters"] in (None, [], [{"key": "1", "value": "shopify"}])
        assert t["clickRefs"] is None or set(t["clickRefs"]) <= {
            "clickRef",
            *(f"clickRef{n}" for n in range(2, 7)),
        }
        # parts add up to the totals (in cents: the JSON numbers are floats)
        parts = t["transactionParts"]
        assert parts and all(set(p) == PART_FIELDS for p in parts)
        assert sum(cents(p["amount"]) for p in parts) == cents(t["saleAmount"]["amount"])
        assert sum(cents(p["commissionAmount"]) for p in parts) == cents(
            t["commissionAmount"]["amount"]
        )
        for p in parts:
            assert isinstance(p["commissionGroupId"], int)
            (tracked,) = p["trackedParts"]
            assert tracked["code"] == p["commissionGroupCode"]
        status = t["commissionStatus"]
        assert (t["validationDate"] is None) is (status == "pending")
        assert (t["declineReason"] is not None) is (status == "declined")
        if t["amended"]:
            assert t["amendReason"] and status == "approved"
            assert cents(t["oldSaleAmount"]["amount"]) > cents(t["saleAmount"]["amount"])
            assert t["originalSaleAmount"] == t["oldSaleAmount"]
            old_parts = sum(cents(p["trackedParts"][0]["amount"]) for p in parts)
            if t["trackedCurrencyAmount"] is None:  # tracked parts keep the pre-amendment split
                assert old_parts == cents(t["oldSaleAmount"]["amount"])
        else:
            assert t["oldSaleAmount"] is t["oldCommissionAmount"] is t["amendReason"] is None


def test_the_transactions_hold_every_trap_of_the_reference(
    everything: list[dict[str, Any]],
) -> None:
    """apis.md 2.7: each case occurs several times in the 300 transactions of seed 1."""
    statuses = Counter(t["commissionStatus"] for t in everything)
    assert min(statuses[s] for s in ("pending", "approved", "declined")) >= 10, statuses
    declined = [t for t in everything if t["commissionStatus"] == "declined"]
    assert all(cents(t["commissionAmount"]["amount"]) > 0 for t in declined)  # amounts kept

    def count(predicate: Any) -> int:
        return sum(1 for t in everything if predicate(t))

    refs = [t["clickRefs"] for t in everything]
    cases: dict[str, int] = {
        "amended": count(lambda t: t["amended"]),
        "amended part zeroed": count(
            lambda t: t["amended"] and any(p["amount"] == 0 for p in t["transactionParts"])
        ),
        "several parts": count(lambda t: len(t["transactionParts"]) >= 2),
        "three parts": count(lambda t: len(t["transactionParts"]) >= 3),
        "fixed-commission group": count(
            lambda t: any(p["commissionGroupCode"] == "NEU" for p in t["transactionParts"])
        ),
        "voucher": count(lambda t: t["voucherCode"]),
        "clickRefs null": sum(1 for r in refs if r is None),
        "clickRefs empty": sum(1 for r in refs if r == {}),
        "clickRefs partial": sum(1 for r in refs if r and len(r) < 6),
        "clickRefs all six": sum(1 for r in refs if r and len(r) == 6),
        "clickRef empty string": sum(1 for r in refs if r and "" in r.values()),
        "clickRef non-ASCII": sum(
            1 for r in refs if r and any(not v.isascii() for v in r.values())
        ),
        "basket": count(lambda t: t["basketProducts"]),
        "no basket": count(lambda t: t["basketProducts"] is None),
        "whole-number float": count(lambda t: float(t["saleAmount"]["amount"]).is_integer()),
        "shopper currency differs": count(lambda t: t["trackedCurrencyAmount"] is not None),
        "orderRef null": count(lambda t: t["orderRef"] is None),
        "commission sharing": count(lambda t: t["commissionSharingPublisherId"] is not None),
        "paid": count(lambda t: t["paidToPublisher"]),
        "negative ipHash": count(lambda t: t["ipHash"].startswith("-")),
        "devices differ": count(lambda t: t["clickDevice"] != t["transactionDevice"]),
    }
    rare = {name: n for name, n in cases.items() if n < 3}
    assert not rare, rare
    # the raw JSON has numbers such as 125.0 (not strings, not 125)
    raw = orjson.dumps(everything).decode()
    assert re.search(r'"amount":\d+\.0[,}]', raw)


def test_basket_products_only_when_asked(
    awin: AwinSandbox, everything: list[dict[str, Any]]
) -> None:
    plain = {t["id"]: t for t in read_all(awin)}
    assert all(t["basketProducts"] is None for t in plain.values())
    for t in everything:
        products = t["basketProducts"]
        assert {**t, "basketProducts": None} == plain[t["id"]]
        if products is None:
            continue
        codes = {p["commissionGroupCode"] for p in t["transactionParts"]}
        for p in products:
            assert set(p) == PRODUCT_FIELDS
            assert isinstance(p["unitPrice"], float) and isinstance(p["quantity"], int)
            assert isinstance(p["productId"], str) and isinstance(p["skuCode"], str)
            assert p["commissionGroupCode"] in codes | {"DEFAULT"}
        if not t["amended"] and t["trackedCurrencyAmount"] is None:
            basket = sum(cents(p["unitPrice"]) * p["quantity"] for p in products)
            assert basket == cents(t["saleAmount"]["amount"])


# ---------------------------------------------------------------------------- determinism, time


def test_the_data_is_a_pure_function_of_seed_and_index(everything: list[dict[str, Any]]) -> None:
    with AwinSandbox(COUNT, token=TOKEN, seed=1) as again:
        assert read_all(again, showBasketProducts="true") == everything
        now = int(again.now.timestamp())
    data = AwinData(1)
    by_id = {t["id"]: t for t in everything}
    for i in (0, 1, 57, 299):
        served = data.transaction(i, now=now, basket=True)
        assert by_id[served["id"]] == served
    other = AwinData(2).transaction(0, now=now)
    assert other != data.transaction(0, now=now)
    assert data.facts(5) == AwinData(1).facts(5)


def test_statuses_change_as_the_sandbox_clock_advances() -> None:
    with AwinSandbox(120, token=TOKEN, seed=3) as awin:
        before = {t["id"]: t for t in read_all(awin)}
        awin.advance(days=40)
        after = {t["id"]: t for t in read_all(awin)}
        facts = {f.id: f for f in awin.facts()}
        now = int(awin.now.timestamp())
        with pytest.raises(ValueError, match="forward"):
            awin.advance(days=-1)
    assert before.keys() == after.keys()
    changed = [i for i in before if before[i]["commissionStatus"] != after[i]["commissionStatus"]]
    assert len(changed) >= 10
    for i in changed:
        assert before[i]["commissionStatus"] == "pending"
        assert before[i]["validationDate"] is None
        assert after[i]["commissionStatus"] == facts[i].final_status
        assert epoch(after[i]["validationDate"]) == facts[i].validated_at
    for i in before:  # final states never change back
        if before[i]["commissionStatus"] != "pending":
            assert after[i]["commissionStatus"] == before[i]["commissionStatus"]
    newly_amended = [i for i in before if after[i]["amended"] and not before[i]["amended"]]
    assert newly_amended
    for i in newly_amended:
        assert after[i]["oldSaleAmount"] == before[i]["saleAmount"]
    still = [f for f in facts.values() if f.status(now) == "pending"]
    assert all(after[f.id]["commissionStatus"] == "pending" for f in still)


def test_now_hides_transactions_not_made_yet() -> None:
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)
    with AwinSandbox(COUNT, token=TOKEN, now=now) as awin:
        with client(awin) as http:
            body = http.get(
                LIST, params=window("2025-03-01T00:00:00", "2025-03-31T00:00:00")
            ).json()
    assert body
    assert max(t["transactionDate"] for t in body) <= "2025-03-10T12:00:00"
    assert all(
        t["commissionStatus"] == "pending" for t in body if t["transactionDate"] > "2025-03-09"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        AwinSandbox(1, now=datetime(2025, 3, 1))


def test_start_anchors_the_data_in_time() -> None:
    start = datetime(2026, 1, 10, 12, 0, 30, 250000, tzinfo=UTC)
    anchor = int(datetime(2026, 1, 10, 12, 0, tzinfo=UTC).timestamp())  # floored to the minute
    default = [AwinData(1).facts(i) for i in range(40)]
    with AwinSandbox(40, token=TOKEN, start=start) as awin:
        facts = awin.facts()
        assert int(awin.anchor.timestamp()) == anchor
        # every instant moves by the same amount, nothing else changes
        shift = anchor - START
        for moved, f in zip(facts, default, strict=True):
            assert moved.transaction_at == f.transaction_at + shift
            assert moved.validated_at == (f.validated_at and f.validated_at + shift)
            assert moved.amended_at == (f.amended_at and f.amended_at + shift)
            assert (moved.final_status, moved.publisher) == (f.final_status, f.publisher)
        assert min(f.transaction_at for f in facts) == facts[0].transaction_at >= anchor
        assert facts[0].transaction_at - anchor == default[0].transaction_at - START
        assert int(awin.now.timestamp()) == anchor + 40 * 4 * 3600 + 2 * 86400
        with client(awin) as http:
            then = http.get(LIST, params=window("2026-01-10T12:00:00", "2026-02-10T12:00:00"))
            old = http.get(LIST, params=window("2025-03-01T00:00:00", "2025-03-31T00:00:00"))
        assert {t["id"] for t in then.json()} == {f.id for f in facts}
        assert old.json() == []
    with AwinSandbox(1, start=datetime(2025, 3, 1, tzinfo=UTC)) as explicit:
        assert explicit.facts() == [AwinData(1).facts(0)]
    with pytest.raises(ValueError, match="timezone-aware"):
        AwinSandbox(1, start=datetime(2026, 1, 1))


def test_a_sandbox_anchored_at_the_real_now() -> None:
    before = datetime.now(UTC)
    with AwinSandbox.anchored_now(30, token=TOKEN) as awin:
        after = datetime.now(UTC)
        facts = awin.facts()
        assert before - timedelta(seconds=1) <= awin.now <= after
        last = datetime.fromtimestamp(max(f.transaction_at for f in facts), UTC)
        assert timedelta(days=1) < awin.now - last < timedelta(days=3)
        # a window ending at the real clock's now holds every transaction
        with client(awin) as http:
            body = http.get(
                LIST,
                params=window(
                    (after - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S"),
                    after.strftime("%Y-%m-%dT%H:%M:%S"),
                ),
            ).json()
        assert {t["id"] for t in body} == {f.id for f in facts}
    with AwinSandbox.anchored_now(30, token=TOKEN, ago=timedelta(days=20)) as earlier:
        lag = datetime.now(UTC) - earlier.now
        assert timedelta(days=20) <= lag < timedelta(days=20, seconds=30)
    with pytest.raises(ValueError, match="ago"):
        AwinSandbox.anchored_now(1, ago=timedelta(days=-1))


# ---------------------------------------------------------------------------- rate limit


def test_the_rate_limit_answers_429_without_retry_after() -> None:
    clock = [1000.0]
    with AwinSandbox(10, token=TOKEN, rate_limit_per_minute=3, clock=lambda: clock[0]) as awin:
        with client(awin) as http:
            statuses = [http.get("/accounts").status_code for _ in range(3)]
            refused = http.get("/accounts")
            clock[0] += 30
            assert http.get("/accounts").status_code == 429  # still within the minute
            clock[0] += 31
            again = http.get("/accounts")
            unauthorised = httpx.get(f"{awin.url}/accounts")  # 401 first, not counted
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert "retry-after" not in refused.headers
    assert refused.content == b""
    assert again.status_code == 200
    assert unauthorised.status_code == 401


def test_injected_429s() -> None:
    with AwinSandbox(10, token=TOKEN, inject_429_every=3) as awin:
        with client(awin) as http:
            statuses = [http.get("/accounts").status_code for _ in range(7)]
    assert statuses == [200, 200, 429, 200, 200, 429, 200]
    with pytest.raises(ValueError, match="at least 2"):
        AwinSandbox(1, inject_429_every=1)
    with pytest.raises(ValueError, match="at least 1"):
        AwinSandbox(1, rate_limit_per_minute=0)


# ---------------------------------------------------------------------------- the other side


def test_the_publisher_view(awin: AwinSandbox, everything: list[dict[str, Any]]) -> None:
    start, end = "2025-03-01T00:00:00", "2025-03-31T23:59:59"
    path = f"/publishers/{PUBLISHER}/transactions/"
    with client(awin) as http:
        mine = http.get(path, params=window(start, end)).json()
        filtered = http.get(path, params=window(start, end, advertiserId="15881")).json()
    in_march = [t for t in everything if t["transactionDate"] <= end]
    assert {t["id"] for t in mine} == {t["id"] for t in in_march if t["publisherId"] == PUBLISHER}
    assert mine and filtered == []
    for t in mine:
        assert list(t) == FIELDS
        assert t["networkFee"] == {"amount": None, "currency": None}


def test_programmes_commission_groups_and_publishers(awin: AwinSandbox) -> None:
    with client(awin) as http:
        programmes = http.get(f"/publishers/{PUBLISHER}/programmes").json()
        joined = http.get(
            f"/publishers/{PUBLISHER}/programmes", params={"relationship": "joined"}
        ).json()
        bad = http.get(f"/publishers/{PUBLISHER}/programmes", params={"relationship": "friends"})
        groups = http.get(
            f"/publishers/{PUBLISHER}/commissiongroups", params={"advertiserId": ADVERTISER}
        ).json()
        no_advertiser = http.get(f"/publishers/{PUBLISHER}/commissiongroups")
        unknown = http.get(f"/publishers/{PUBLISHER}/commissiongroups", params={"advertiserId": 9})
        publishers = http.get(f"/advertisers/{ADVERTISER}/publishers").json()
    assert len(programmes) == 4 and [p["id"] for p in joined] == [ADVERTISER, 15881]
    assert set(programmes[0]) == {
        "id", "name", "description", "displayUrl", "clickThroughUrl", "logoUrl", "currencyCode",
        "primaryRegion", "primarySector", "status", "linkStatus", "validDomains",
    }  # fmt: skip
    assert programmes[0]["primaryRegion"] == {"countryCode": "AT", "name": "Austria"}
    assert bad.status_code == 400
    assert groups["advertiser"] == ADVERTISER and groups["publisher"] == PUBLISHER
    kinds = {g["groupCode"]: g for g in groups["commissionGroups"]}
    assert kinds["DEFAULT"] == {
        "groupId": 88101,
        "groupCode": "DEFAULT",
        "groupName": "Default",
        "type": "percentage",
        "percentage": 8,
    }
    assert kinds["NEU"]["type"] == "fix" and kinds["NEU"]["amount"] == 5.0
    assert kinds["NEU"]["currency"] == "EUR"
    assert no_advertiser.status_code == 400 and unknown.status_code == 404
    assert {p["id"] for p in publishers} >= {PUBLISHER, 300402}
    assert all(
        set(p) == {"id", "name", "primaryRegion", "salesRegions", "primaryType"} for p in publishers
    )


def test_commission_matches_the_groups_rates(
    everything: list[dict[str, Any]], awin: AwinSandbox
) -> None:
    with client(awin) as http:
        groups = http.get(
            f"/publishers/{PUBLISHER}/commissiongroups", params={"advertiserId": ADVERTISER}
        ).json()["commissionGroups"]
    rates = {g["groupCode"]: g for g in groups}
    for t in everything:
        for p in t["transactionParts"]:
            group = rates[p["commissionGroupCode"]]
            assert group["groupId"] == p["commissionGroupId"]
            amount = Decimal(str(p["amount"]))
            if amount == 0:
                assert p["commissionAmount"] == 0
            elif group["type"] == "fix":
                assert Decimal(str(p["commissionAmount"])) == Decimal(str(group["amount"]))
            else:
                expected = (amount * group["percentage"] / 100).quantize(Decimal("0.01"))
                assert abs(Decimal(str(p["commissionAmount"])) - expected) <= Decimal("0.01")


# ---------------------------------------------------------------------------- command line


def test_the_command_line_serves_until_a_signal() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.awin.sandbox", "--port", "0", "--transactions", "20",
         "--token", "tok"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), first
        response = httpx.get(
            f"{url}{LIST}",
            params=window("2025-02-25T00:00:00", "2025-03-27T00:00:00"),
            headers={"Authorization": "Bearer tok"},
        )
        assert len(response.json()) == 20
        printed = [process.stdout.readline() for _ in range(8)]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert "  api_token: tok\n" in printed and "  account_id: 15880\n" in printed
    assert "stopped" in out
    assert int(datetime(2025, 3, 1, tzinfo=UTC).timestamp()) == START


# ---------------------------------------------------------------------------- other accounts


def test_another_advertiser_and_publisher_account() -> None:
    with AwinSandbox(50, token=TOKEN, account_id=20001, publisher_id=300403) as awin:
        with client(awin) as http:
            params = window("2025-03-01T00:00:00", "2025-03-31T00:00:00")
            mine = http.get("/advertisers/20001/transactions/", params=params).json()
            old = http.get(LIST, params=params)
            theirs = http.get("/publishers/300403/transactions/", params=params).json()
            accounts = http.get("/accounts").json()["accounts"]
            programmes = http.get("/publishers/300403/programmes").json()
            groups = http.get(
                "/publishers/300403/commissiongroups", params={"advertiserId": 15881}
            ).json()
    assert mine and all(t["advertiserId"] == 20001 for t in mine)
    assert old.status_code == 403
    assert theirs and {t["publisherId"] for t in theirs} == {300403}
    assert [a["accountId"] for a in accounts] == [20001, 300403]
    assert programmes[0]["id"] == 20001
    assert [g["groupId"] for g in groups["commissionGroups"]] == [158811]
    with pytest.raises(ValueError, match="300401"):
        AwinSandbox(1, publisher_id=1)


# ---------------------------------------------------------------------------- conversion API

S2S = f"/s2s/advertiser/{ADVERTISER}/orders"
AWC = "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"


def order(ref: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "orderReference": ref,
        "amount": 101.61,
        "channel": "aw",
        "currency": "CHF",
        "awc": AWC,
        "voucher": "SPRING10",
        "customerAcquisition": "NEW",
        "commissionGroups": [{"code": "DEFAULT", "amount": 80.5}, {"code": "ACC", "amount": 21.11}],
        "custom": {"1": "shopify"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_the_conversion_api_keeps_good_orders_and_reports_bad_ones() -> None:
    # rate_limit_per_minute=1: Conversion API calls do not count against the reporting API's limit
    with AwinSandbox(1, token=TOKEN, s2s_api_key="key-1", rate_limit_per_minute=1) as awin:
        headers = {"x-api-key": "key-1"}
        good = httpx.post(f"{awin.url}{S2S}", json={"orders": [order("2042")]}, headers=headers)
        bad_orders = [
            order("2043"),
            order("x" * 51),
            order("2044", amount="101.61"),
            order("2045", currency="chf"),
            order("2046", awc=None, voucher=None),
            order("2047", awc=None, voucher=None, publisherId=300401, clickTime=1741964712),
            order("2048", awc=None, voucher=None, publisherId=300401),
            order("2049", commissionGroups=[{"code": "DEFAULT", "amount": 100}]),
            order("2050", awc="15881_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"),
            order("2051", channel=None),
        ]
        mixed = httpx.post(f"{awin.url}{S2S}", json={"orders": bad_orders}, headers=headers)
        resend = httpx.post(f"{awin.url}{S2S}", json={"orders": [order("2042")]}, headers=headers)
        no_key = httpx.post(f"{awin.url}{S2S}", json={"orders": [order("1")]})
        other = httpx.post(
            f"{awin.url}/s2s/advertiser/1/orders", json={"orders": []}, headers=headers
        )
        too_many = httpx.post(
            f"{awin.url}{S2S}",
            json={"orders": [order(str(n)) for n in range(1001)]},
            headers=headers,
        )
        not_json = httpx.post(f"{awin.url}{S2S}", content=b"{", headers=headers)
        kept = dict(awin.conversions.orders)
    assert good.status_code == 202
    assert good.json()["successfulOrders"][0]["orderReference"] == "2042"
    assert good.json()["failedOrders"] == []
    assert mixed.status_code == 206
    body = mixed.json()
    assert [o["orderReference"] for o in body["successfulOrders"]] == ["2043", "2047"]
    failures = {
        f["order"]["orderReference"]: {e["field"] for e in f["errors"]}
        for f in body["failedOrders"]
    }
    assert failures == {
        "x" * 51: {"orderReference"},
        "2044": {"amount"},
        "2045": {"currency"},
        "2046": {"awc"},
        "2048": {"clickTime"},
        "2049": {"commissionGroups"},
        "2050": {"awc"},
        "2051": {"channel"},
    }
    assert resend.status_code == 202
    assert set(kept) == {"2042", "2043", "2047"}  # a resend replaces, never duplicates
    assert kept["2042"] == order("2042")
    assert no_key.status_code == 401 and other.status_code == 403
    assert too_many.status_code == 400 and "1000" in too_many.json()["description"]
    assert not_json.status_code == 400


def test_a_status_change_changes_only_the_status_fields() -> None:
    """orderRef is the join key: a re-read after a validation must show the same order."""
    data = AwinData()
    status_fields = {
        "commissionStatus",
        "validationDate",
        "declineReason",
        "amended",
        "amendReason",
        "oldSaleAmount",
        "oldCommissionAmount",
        "originalSaleAmount",
        "saleAmount",
        "commissionAmount",
        "transactionParts",
        "networkFee",
        "paidToPublisher",
        "paymentId",
    }
    checked = 0
    for index in range(300):
        facts = data.facts(index)
        if facts.validated_at is None:
            continue
        before = data.transaction(index, now=facts.validated_at - 1)
        after = data.transaction(index, now=facts.validated_at + 1)
        assert before["commissionStatus"] == "pending" != after["commissionStatus"]
        changed = {key for key in before if before[key] != after[key]}
        assert changed <= status_fields, (index, changed - status_fields)
        checked += 1
    assert checked > 200
