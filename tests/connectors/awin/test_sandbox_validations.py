"""The Awin sandbox's transaction-validation batch API, over real HTTP.

``POST /advertisers/{id}/transactions/batch`` then ``GET .../transactions/jobs/{id}``.
Expectations come from a fresh ``AwinData`` (the transactions as generated,
without any decision) and from the amounts the tests send, never from the
server's own bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from connectors.awin.sandbox import AwinData, AwinSandbox
from connectors.awin.sandbox.data import Facts
from connectors.awin.validations import AwinValidationDestination, AwinValidationSettings

TOKEN = "awin_test_token_0123456789"
COUNT = 120
SEED = 1
ADVERTISER = 15880
BATCH = f"/advertisers/{ADVERTISER}/transactions/batch"
LIST = f"/advertisers/{ADVERTISER}/transactions/"
BY_IDS = f"/advertisers/{ADVERTISER}/transactions"
JOB_ID = re.compile(r"^[0-9a-f]{24}$")
FORMAT = "%Y-%m-%dT%H:%M:%S"
#: the sandbox advertiser's commission groups as apis.md 2.5 publishes them (checked below)
PERCENT = {"DEFAULT": 8, "ACC": 5, "SALE": 3}
FIXED_CENTS = {"NEU": 500}


@pytest.fixture
def awin() -> Iterator[AwinSandbox]:
    with AwinSandbox(COUNT, token=TOKEN, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture
def http(awin: AwinSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=awin.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def now_of(awin: AwinSandbox) -> int:
    return int(awin.now.timestamp())


def generated(awin: AwinSandbox) -> list[Facts]:
    """The facts as generated, from a fresh AwinData that knows no decision."""
    return [AwinData(SEED).facts(i) for i in range(COUNT)]


def pending(awin: AwinSandbox) -> list[Facts]:
    """Transactions pending at the sandbox's now (as generated), oldest first."""
    now = now_of(awin)
    return [f for f in generated(awin) if f.transaction_at <= now and f.status(now) == "pending"]


def settled(awin: AwinSandbox, status: str) -> Facts:
    now = now_of(awin)
    return next(f for f in generated(awin) if f.status(now) == status)


def served(http: httpx.Client, tid: int, tz: str = "UTC") -> dict[str, Any]:
    response = http.get(BY_IDS, params={"ids": str(tid), "timezone": tz})
    assert response.status_code == 200, response.text
    (transaction,) = response.json()
    return transaction


def listed(http: httpx.Client, start: int, end: int, date_type: str) -> set[int]:
    response = http.get(
        LIST,
        params={
            "startDate": datetime.fromtimestamp(start, UTC).strftime(FORMAT),
            "endDate": datetime.fromtimestamp(end, UTC).strftime(FORMAT),
            "dateType": date_type,
        },
    )
    assert response.status_code == 200, response.text
    return {t["id"] for t in response.json()}


def send(http: httpx.Client, operations: Any) -> str:
    response = http.post(BATCH, json=operations)
    assert response.status_code == 202, response.text
    body = response.json()
    assert list(body) == ["jobId"] and JOB_ID.match(body["jobId"]), body
    return str(body["jobId"])


def done(http: httpx.Client, job: str, output: str | None = None) -> dict[str, Any]:
    """Read the job until it is DONE (the sandbox: the second read)."""
    params = {"output": output} if output else {}
    first = http.get(f"/advertisers/{ADVERTISER}/transactions/jobs/{job}", params=params)
    assert first.status_code == 200, first.text
    if first.json()["status"] == "DONE":
        return dict(first.json())
    again = http.get(f"/advertisers/{ADVERTISER}/transactions/jobs/{job}", params=params)
    assert again.status_code == 200 and again.json()["status"] == "DONE", again.text
    return dict(again.json())


def failures(http: httpx.Client, job: str) -> list[str | None]:
    return [f["code"] for f in done(http, job, "errors")["failedTransactions"]]


def cents(amount: Any) -> int:
    value = Decimal(str(amount)) * 100
    assert value == value.to_integral_value(), amount
    return int(value)


def commission(code: str, amount: int) -> int:
    """Commission in cents of ``amount`` cents in group ``code`` (apis.md 2.5 rates)."""
    if amount == 0:
        return 0
    if code in FIXED_CENTS:
        return FIXED_CENTS[code]
    exact = Decimal(amount) * PERCENT[code] / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def local(instant: int, tz: str = "UTC") -> str:
    return datetime.fromtimestamp(instant, ZoneInfo(tz)).strftime(FORMAT)


def test_the_rates_used_here_are_the_ones_the_sandbox_publishes(http: httpx.Client) -> None:
    groups = http.get(
        "/publishers/300401/commissiongroups", params={"advertiserId": ADVERTISER}
    ).json()["commissionGroups"]
    published = {g["groupCode"]: g for g in groups}
    assert {c: published[c]["percentage"] for c in PERCENT} == PERCENT
    assert cents(published["NEU"]["amount"]) == FIXED_CENTS["NEU"]


# ---------------------------------------------------------------------------- approve, decline


def test_approve_by_id_changes_only_status_and_validation_date(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[0]
    before = served(http, f.id)
    job = send(http, [{"action": "approve", "transaction": {"transactionId": f.id}}])
    after = served(http, f.id)
    now = now_of(awin)
    assert after["commissionStatus"] == "approved"
    assert after["validationDate"] == local(now)
    # everything else as served before, orderRef above all (the join key)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"commissionStatus", "validationDate"}
    assert list(after) == list(before)
    assert f.id in listed(http, now - 60, now, "validation")
    assert f.id not in listed(http, now - 3600, now - 60, "validation")
    assert f.id not in listed(http, now - 3600, now, "amendment")
    body = done(http, job, "errors")
    assert body == {
        "jobId": job,
        "status": "DONE",
        "transactions": 1,
        "allTransactions": None,
        "errors": 0,
        "failedTransactions": [],
    }


def test_decline_by_id_keeps_the_reason(awin: AwinSandbox, http: httpx.Client) -> None:
    f = pending(awin)[1]
    send(
        http,
        [
            {
                "action": "decline",
                "transaction": {"transactionId": f.id, "declineReason": "order returned"},
            }
        ],
    )
    after = served(http, f.id, tz="US/Pacific")
    now = now_of(awin)
    assert after["commissionStatus"] == "declined"
    assert after["declineReason"] == "order returned"
    assert after["validationDate"] == local(now, "US/Pacific")
    assert after["amended"] is False
    response = http.get(
        LIST,
        params={
            "startDate": local(now - 60),
            "endDate": local(now),
            "dateType": "validation",
            "status": "declined",
        },
    )
    assert f.id in {t["id"] for t in response.json()}


def test_a_decline_without_a_reason_is_accepted(awin: AwinSandbox, http: httpx.Client) -> None:
    f = pending(awin)[2]
    job = send(http, [{"action": "decline", "transaction": {"transactionId": f.id}}])
    assert done(http, job)["errors"] == 0
    after = served(http, f.id)
    assert after["commissionStatus"] == "declined" and after["declineReason"] is None


def test_the_validation_window_holds_generated_and_decided_validations(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    now = now_of(awin)
    chosen = pending(awin)[:5]
    send(
        http,
        [{"action": "approve", "transaction": {"transactionId": f.id}} for f in chosen[:3]]
        + [
            {"action": "decline", "transaction": {"transactionId": f.id, "declineReason": "x"}}
            for f in chosen[3:]
        ],
    )
    lo = now - 10 * 86400
    expected = {
        f.id
        for f in generated(awin)
        if f.status(now) != "pending" and f.validated_at is not None and lo <= f.validated_at
    } | {f.id for f in chosen}
    assert listed(http, lo, now, "validation") == expected


# ---------------------------------------------------------------------------- amend


def test_amend_sets_the_parts_and_keeps_the_old_amounts(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[0]
    before = served(http, f.id)
    operation = {
        "action": "amend",
        "approve": False,
        "transaction": {
            "transactionId": f.id,
            "amendReason": "partial return",
            "currency": "EUR",
            "saleAmount": 55.96,
            "transactionParts": [
                {"amount": 44.76, "commissionGroupCode": "DEFAULT"},
                {"amount": 11.20, "commissionGroupCode": "ACC"},
            ],
        },
    }
    job = send(http, [operation])
    after = served(http, f.id)
    now = now_of(awin)
    wanted = {"DEFAULT": 4476, "ACC": 1120}
    old_codes = [p["commissionGroupCode"] for p in before["transactionParts"]]
    parts = {p["commissionGroupCode"]: p for p in after["transactionParts"]}
    assert set(parts) == set(old_codes) | set(wanted)
    for code, p in parts.items():
        assert cents(p["amount"]) == wanted.get(code, 0)  # groups left out are zeroed
        assert cents(p["commissionAmount"]) == commission(code, wanted.get(code, 0))
        old = next(
            (q for q in before["transactionParts"] if q["commissionGroupCode"] == code), None
        )
        assert p["trackedParts"] == (old["trackedParts"] if old else [])
    assert cents(after["saleAmount"]["amount"]) == 5596
    expected_commission = sum(commission(c, a) for c, a in wanted.items())
    assert cents(after["commissionAmount"]["amount"]) == expected_commission
    assert after["amended"] is True and after["amendReason"] == "partial return"
    assert after["oldSaleAmount"] == before["saleAmount"]
    assert after["oldCommissionAmount"] == before["commissionAmount"]
    assert after["commissionStatus"] == "pending" and after["validationDate"] is None
    assert after["orderRef"] == before["orderRef"]
    assert f.id in listed(http, now - 60, now, "amendment")
    assert f.id not in listed(http, now - 60, now, "validation")
    assert done(http, job)["errors"] == 0


def test_amend_balances_the_parts_on_the_default_group(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f, g = pending(awin)[:2]

    def amend(tid: int, sale: float, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "action": "amend",
            "transaction": {
                "transactionId": tid,
                "amendReason": "r",
                "currency": "EUR",
                "saleAmount": sale,
                "transactionParts": parts,
            },
        }

    job = send(
        http,
        [
            # 10.00 for DEFAULT does not balance: DEFAULT takes 55.96 - 11.20
            amend(
                f.id,
                55.96,
                [
                    {"amount": 10, "commissionGroupCode": "DEFAULT"},
                    {"amount": 11.2, "commissionGroupCode": "ACC"},
                ],
            ),
            # no parts at all: everything to DEFAULT
            amend(g.id, 20, []),
        ],
    )
    assert done(http, job)["errors"] == 0
    for tid, wanted in ((f.id, {"DEFAULT": 4476, "ACC": 1120}), (g.id, {"DEFAULT": 2000})):
        after = served(http, tid)
        amounts = {p["commissionGroupCode"]: cents(p["amount"]) for p in after["transactionParts"]}
        assert {c: a for c, a in amounts.items() if a} == wanted
        assert sum(amounts.values()) == cents(after["saleAmount"]["amount"])
        assert sum(cents(p["commissionAmount"]) for p in after["transactionParts"]) == cents(
            after["commissionAmount"]["amount"]
        )


def test_amend_with_approve_amends_and_approves_at_once(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[3]
    before = served(http, f.id)
    send(
        http,
        [
            {
                "action": "amend",
                "approve": True,
                "transaction": {
                    "transactionId": f.id,
                    "amendReason": "Teilretoure",
                    "currency": "EUR",
                    "saleAmount": 12.5,
                    "transactionParts": [{"amount": 12.5, "commissionGroupCode": "SALE"}],
                },
            }
        ],
    )
    now = now_of(awin)
    after = served(http, f.id)
    assert after["commissionStatus"] == "approved" and after["validationDate"] == local(now)
    assert after["amended"] is True and after["oldSaleAmount"] == before["saleAmount"]
    parts = {p["commissionGroupCode"]: cents(p["amount"]) for p in after["transactionParts"]}
    assert parts["SALE"] == 1250 and sum(parts.values()) == 1250
    assert parts.get("DEFAULT", 0) == 0
    assert cents(after["commissionAmount"]["amount"]) == commission("SALE", 1250)
    assert f.id in listed(http, now - 60, now, "validation")
    assert f.id in listed(http, now - 60, now, "amendment")


def test_an_amended_pending_transaction_can_be_amended_again_then_approved(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[4]
    original = served(http, f.id)

    def amend(sale: float) -> dict[str, Any]:
        return {
            "action": "amend",
            "transaction": {"transactionId": f.id, "currency": "EUR", "saleAmount": sale},
        }

    send(http, [amend(30)])
    first = served(http, f.id)
    awin.advance(hours=1)
    send(http, [amend(25), {"action": "approve", "transaction": {"transactionId": f.id}}])
    second = served(http, f.id)
    assert cents(second["saleAmount"]["amount"]) == 2500
    assert second["oldSaleAmount"] == first["saleAmount"]  # the values just before
    # the sale as tracked, before any amendment
    assert second["originalSaleAmount"] == original["saleAmount"]
    assert second["commissionStatus"] == "approved"
    assert second["amendReason"] is None


# ---------------------------------------------------------------------------- by orderRef


@pytest.mark.parametrize("action", ["approve", "decline", "amend"])
def test_operations_find_the_transaction_by_order_ref_and_local_date(
    awin: AwinSandbox, http: httpx.Client, action: str
) -> None:
    tz = "Europe/Paris"
    f = next(f for f in pending(awin) if served(http, f.id)["orderRef"] is not None)
    shown = served(http, f.id, tz=tz)
    transaction: dict[str, Any] = {
        "orderRef": shown["orderRef"],
        "transactionDate": shown["transactionDate"],
        "timezone": tz,
    }
    if action == "decline":
        transaction["declineReason"] = "Ware retourniert"
    if action == "amend":
        transaction.update(currency="EUR", saleAmount=1.5, amendReason="Preisnachlass")
    job = send(http, [{"action": action, "transaction": transaction}])
    body = done(http, job, "all")
    assert body["errors"] == 0
    assert body["allTransactions"] == [
        {
            "transactionId": None,
            "orderRef": shown["orderRef"],
            "transactionDate": shown["transactionDate"],
            "timezone": tz,
            "action": action,
            "status": "SUCCESS",
            "code": None,
        }
    ]
    after = served(http, f.id)
    status = {"approve": "approved", "decline": "declined", "amend": "pending"}[action]
    assert after["commissionStatus"] == status
    assert after["amended"] is (action == "amend")


def test_order_ref_dates_match_to_the_minute_or_the_second(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    candidates = [f for f in pending(awin) if served(http, f.id)["orderRef"] is not None]
    first, second, third = candidates[:3]
    tz = "US/Eastern"

    def approve(f: Facts, date: str, zone: str = tz) -> dict[str, Any]:
        ref = served(http, f.id)["orderRef"]
        return {
            "action": "approve",
            "transaction": {"orderRef": ref, "transactionDate": date, "timezone": zone},
        }

    at = first.transaction_at
    no_such = {
        "action": "approve",
        "transaction": {"orderRef": "no-such-order", "transactionDate": local(at)},
    }
    job = send(
        http,
        [
            approve(first, local(at, tz)[:16]),  # HH:MM: to the minute
            approve(second, local(second.transaction_at + 60, tz)),  # a minute off
            approve(second, local(second.transaction_at + 30, tz)),  # seconds given: exact
            approve(third, local(third.transaction_at, tz), zone="UTC"),  # wrong zone
            approve(third, local(third.transaction_at, tz), zone="Mars/Olympus"),
            no_such,
        ],
    )
    codes = [t["code"] for t in done(http, job, "all")["allTransactions"]]
    missing = "[404 NOT_FOUND] transaction not found"
    assert codes[:4] == [None, missing, missing, missing] and codes[5] == missing
    assert codes[4] is not None and codes[4].startswith("[400 BAD_REQUEST]")
    assert "Mars/Olympus" in codes[4]
    assert served(http, first.id)["commissionStatus"] == "approved"
    assert served(http, second.id)["commissionStatus"] == "pending"


# ---------------------------------------------------------------------------- failures


def test_failed_operations_are_reported_and_change_nothing(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    p = pending(awin)[0]
    approved = settled(awin, "approved")
    declined = settled(awin, "declined")
    before = {f.id: served(http, f.id) for f in (p, approved, declined)}

    def amend(**changes: Any) -> dict[str, Any]:
        transaction = {"transactionId": p.id, "currency": "EUR", "saleAmount": 10.0, **changes}
        return {
            "action": "amend",
            "transaction": {k: v for k, v in transaction.items() if v != "-"},
        }

    operations: list[Any] = [
        {"action": "approve", "transaction": {"transactionId": 1}},
        {"action": "approve", "transaction": {"transactionId": p.id - p.index + COUNT}},
        {"action": "approve", "transaction": {"transactionId": approved.id}},
        {"action": "decline", "transaction": {"transactionId": declined.id, "declineReason": "x"}},
        {"action": "validate", "transaction": {"transactionId": p.id}},
        {"action": "approve"},
        "approve",
        {"action": "approve", "transaction": {"transactionId": str(p.id)}},
        {"action": "approve", "transaction": {}},
        amend(saleAmount="-"),
        amend(currency="-"),
        amend(currency="GBP"),
        amend(saleAmount=10.005),
        amend(saleAmount=-1),
        amend(saleAmount="10"),
        amend(transactionParts=[{"amount": 1, "commissionGroupCode": "BONUS"}]),
        amend(transactionParts=[{"amount": 11, "commissionGroupCode": "ACC"}]),
        amend(transactionParts=[{"amount": 1, "commissionGroupCode": "ACC"}] * 2),
        amend(amendReason=5),
        {"action": "decline", "transaction": {"transactionId": p.id, "declineReason": 5}},
        {**amend(), "approve": "yes"},
    ]
    job = send(http, operations)
    body = done(http, job, "errors")
    codes = [f["code"] for f in body["failedTransactions"]]
    assert body["transactions"] == len(operations) == body["errors"] == len(codes)
    assert codes[:4] == [
        "[404 NOT_FOUND] transaction not found",
        "[404 NOT_FOUND] transaction not found",
        "[409 CONFLICT] transaction is approved and cannot be changed",
        "[409 CONFLICT] transaction is declined and cannot be changed",
    ]
    assert all(c.startswith("[400 BAD_REQUEST] ") for c in codes[4:]), codes
    assert "GBP" in codes[11] and "2 decimals" in codes[12] and "BONUS" in codes[15]
    assert body["failedTransactions"][0] == {
        "transactionId": 1,
        "orderRef": None,
        "transactionDate": None,
        "timezone": "",
        "action": "approve",
        "code": "[404 NOT_FOUND] transaction not found",
    }
    assert {f.id: served(http, f.id) for f in (p, approved, declined)} == before
    assert awin.validations.decisions == {}


def test_a_transaction_not_made_yet_is_not_found() -> None:
    data = AwinData(SEED)
    now = data.facts(10).transaction_at - 1
    with AwinSandbox(COUNT, token=TOKEN, now=datetime.fromtimestamp(now, UTC)) as awin:
        with httpx.Client(base_url=awin.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            job = send(
                http, [{"action": "approve", "transaction": {"transactionId": data.facts(10).id}}]
            )
            assert failures(http, job) == ["[404 NOT_FOUND] transaction not found"]


def test_a_transaction_decided_earlier_in_the_batch_is_no_longer_pending(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[0]
    job = send(
        http,
        [
            {"action": "approve", "transaction": {"transactionId": f.id}},
            {"action": "decline", "transaction": {"transactionId": f.id, "declineReason": "x"}},
        ],
    )
    body = done(http, job, "all")
    assert [t["status"] for t in body["allTransactions"]] == ["SUCCESS", "FAILED"]
    assert body["allTransactions"][1]["code"] == (
        "[409 CONFLICT] transaction is approved and cannot be changed"
    )
    assert served(http, f.id)["commissionStatus"] == "approved"


# ---------------------------------------------------------------------------- the job


def test_the_job_is_processing_on_its_first_read_then_done(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    f = pending(awin)[0]
    job = send(
        http,
        [
            {"action": "approve", "transaction": {"transactionId": f.id}},
            {"action": "approve", "transaction": {"transactionId": 42}},
        ],
    )
    path = f"/advertisers/{ADVERTISER}/transactions/jobs/{job}"
    # the decision is visible at once, while the job still says PROCESSING
    assert served(http, f.id)["commissionStatus"] == "approved"
    first = http.get(path).json()
    assert first == {
        "jobId": job,
        "status": "PROCESSING",
        "transactions": 2,
        "allTransactions": None,
        "errors": None,
        "failedTransactions": None,
    }
    plain = http.get(path).json()
    assert plain["status"] == "DONE" and plain["errors"] == 1
    assert plain["failedTransactions"] is None and plain["allTransactions"] is None
    errors = http.get(path, params={"output": "errors"}).json()
    assert [t["transactionId"] for t in errors["failedTransactions"]] == [42]
    assert errors["allTransactions"] is None
    everything = http.get(path, params={"output": "all"}).json()
    assert [(t["transactionId"], t["status"]) for t in everything["allTransactions"]] == [
        (f.id, "SUCCESS"),
        (42, "FAILED"),
    ]
    assert everything["failedTransactions"] is None
    bad = http.get(path, params={"output": "some"})
    assert bad.status_code == 400 and "output" in bad.json()["description"]
    unknown = http.get(f"/advertisers/{ADVERTISER}/transactions/jobs/000000000000000000000000")
    assert unknown.status_code == 404 and unknown.json()["error"] == "exception"
    other = http.get(f"/advertisers/15881/transactions/jobs/{job}")
    assert other.status_code == 403
    # what the sandbox kept, for tests
    (kept,) = awin.validations.jobs.values()
    assert kept.id == job and kept.received_at == now_of(awin)
    assert awin.validations.operations == [
        {"action": "approve", "transaction": {"transactionId": f.id}},
        {"action": "approve", "transaction": {"transactionId": 42}},
    ]
    assert set(awin.validations.decisions) == {f.index}


def test_every_batch_gets_its_own_job(awin: AwinSandbox, http: httpx.Client) -> None:
    a, b = pending(awin)[:2]
    first = send(http, [{"action": "approve", "transaction": {"transactionId": a.id}}])
    second = send(http, [{"action": "approve", "transaction": {"transactionId": b.id}}])
    assert first != second
    assert list(awin.validations.jobs) == [first, second]


# ---------------------------------------------------------------------------- the call


def test_calls_that_are_refused_as_a_whole(awin: AwinSandbox, http: httpx.Client) -> None:
    tid = pending(awin)[0].id
    one = {"action": "approve", "transaction": {"transactionId": tid}}
    cases = {
        "not json": http.post(BATCH, content=b"[{", headers={"Content-Type": "application/json"}),
        "object": http.post(BATCH, json={"operations": [one]}),
        "empty": http.post(BATCH, json=[]),
        "too many": http.post(BATCH, content=orjson.dumps([one] * 40_001),
                              headers={"Content-Type": "application/json"}),
    }  # fmt: skip
    for name, response in cases.items():
        assert response.status_code == 400, name
        assert set(response.json()) == {"error", "description"}, name
    assert "40000" in cases["too many"].json()["description"]
    form = http.post(BATCH, content=orjson.dumps([one]), headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert httpx.post(f"{awin.url}{BATCH}", json=[one]).status_code == 401
    assert http.post("/advertisers/15881/transactions/batch", json=[one]).status_code == 403
    assert http.post("/publishers/300401/transactions/batch", json=[one]).status_code == 404
    assert awin.validations.jobs == {} and awin.validations.decisions == {}
    assert served(http, tid)["commissionStatus"] == "pending"


def test_the_largest_batch_is_accepted(awin: AwinSandbox, http: httpx.Client) -> None:
    f = pending(awin)[0]
    operations = [{"action": "approve", "transaction": {"transactionId": f.id}}] * 40_000
    job = send(http, operations)
    body = done(http, job)
    assert body["transactions"] == 40_000 and body["errors"] == 39_999


def test_batches_count_against_the_rate_limit() -> None:
    clock = [0.0]
    with (
        AwinSandbox(COUNT, token=TOKEN, rate_limit_per_minute=2, clock=lambda: clock[0]) as awin,
        httpx.Client(base_url=awin.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        f = pending(awin)[0]
        operations = [{"action": "approve", "transaction": {"transactionId": f.id}}]
        job = send(http, operations)
        assert http.get(f"/advertisers/{ADVERTISER}/transactions/jobs/{job}").status_code == 200
        refused = http.post(BATCH, json=operations)
        assert refused.status_code == 429
        assert len(awin.validations.jobs) == 1


# ---------------------------------------------------------------------------- time


def test_decisions_survive_advance_and_replace_the_generated_fate(
    awin: AwinSandbox, http: httpx.Client
) -> None:
    now = now_of(awin)
    fates = [f for f in pending(awin) if f.validated_at is not None]
    will_decline = next(f for f in fates if f.final_status == "declined")
    will_approve = [f for f in fates if f.final_status == "approved"]
    amend_only, approve_it = will_approve[:2]
    send(
        http,
        [
            {"action": "approve", "transaction": {"transactionId": will_decline.id}},
            {
                "action": "decline",
                "transaction": {"transactionId": approve_it.id, "declineReason": "Testbestellung"},
            },
            {
                "action": "amend",
                "transaction": {"transactionId": amend_only.id, "currency": "EUR", "saleAmount": 7},
            },
        ],
    )
    latest = max(f.validated_at or 0 for f in (will_decline, amend_only, approve_it))
    awin.advance(days=(latest - now) / 86400 + 1)
    assert now_of(awin) > latest
    assert served(http, will_decline.id)["commissionStatus"] == "approved"
    assert served(http, will_decline.id)["validationDate"] == local(now)
    declined = served(http, approve_it.id)
    assert declined["commissionStatus"] == "declined"
    assert declined["declineReason"] == "Testbestellung" and declined["validationDate"] == local(
        now
    )
    amended = served(http, amend_only.id)
    assert amended["commissionStatus"] == "pending" and amended["validationDate"] is None
    assert cents(amended["saleAmount"]["amount"]) == 700
    # a later decision is stamped with the later now
    send(http, [{"action": "approve", "transaction": {"transactionId": amend_only.id}}])
    assert served(http, amend_only.id)["validationDate"] == local(now_of(awin))
    assert amend_only.id in listed(http, now - 60, now, "amendment")
    assert amend_only.id not in listed(http, now - 60, now, "validation")


def test_decisions_work_on_a_sandbox_anchored_at_the_real_now() -> None:
    with (
        AwinSandbox.anchored_now(COUNT, token=TOKEN, seed=SEED) as awin,
        httpx.Client(base_url=awin.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        real = datetime.now(UTC)
        assert abs(awin.now - real) < timedelta(seconds=30)
        now = now_of(awin)
        data = AwinData(SEED, start=awin.anchor)
        f = next(
            data.facts(i)
            for i in range(COUNT)
            if data.facts(i).transaction_at <= now and data.facts(i).status(now) == "pending"
        )
        send(http, [{"action": "approve", "transaction": {"transactionId": f.id}}])
        # a window ending at the real clock's now sees the decision
        response = http.get(
            LIST,
            params={
                "startDate": (real - timedelta(days=1)).strftime(FORMAT),
                "endDate": (real + timedelta(seconds=1)).strftime(FORMAT),
                "dateType": "validation",
            },
        )
        assert f.id in {t["id"] for t in response.json()}


def test_the_job_list_answers_the_destinations_check() -> None:
    with AwinSandbox(transactions=5) as awin:
        settings = AwinValidationSettings(
            api_token=awin.token,
            account_type="advertiser",
            account_id=awin.account_id,
            base_url=awin.url,
            requests_per_minute=6000,
        )
        destination = AwinValidationDestination(settings)
        try:
            destination.check()
            answer = httpx.get(
                f"{awin.url}/advertisers/{awin.account_id}/transactions/jobs",
                headers={"Authorization": f"Bearer {awin.token}"},
            )
            assert answer.status_code == 200 and answer.json() == []
        finally:
            destination.close()
