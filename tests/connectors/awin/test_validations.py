"""The ``awin-validations`` destination on httpx.MockTransport: decisions, batches, jobs, links."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from connectors.awin.validations import (
    AwinValidationDestination,
    AwinValidationSettings,
    Decision,
    Refused,
    operation,
    parse_decisions,
    record_validations,
    resolve_targets,
)
from hub.errors import AuthError, FatalConnectorError, InputFileError
from hub.rowfile import InputRow, read_rows
from hub.schema import make_id
from hub.store import LINKS_KEY, Store

ADVERTISER = 15880
TOKEN = "awin-validation-token-0123456789"
BASE = "https://api.awin.com"
NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


def transaction(
    tid: int,
    status: str = "pending",
    sale: str = "100.00",
    parts: dict[str, str] | None = None,
    currency: str = "EUR",
) -> dict[str, Any]:
    parts = parts if parts is not None else {"DEFAULT": sale}
    return {
        "id": tid,
        "advertiserId": ADVERTISER,
        "commissionStatus": status,
        "saleAmount": {"amount": float(sale), "currency": currency},
        "transactionParts": [
            {"commissionGroupCode": code, "amount": float(amount)} for code, amount in parts.items()
        ],
        "amended": False,
    }


class FakeAwin:
    """Awin's by-id read, batch POST and job status, with what the docs say about each."""

    def __init__(self, *transactions: dict[str, Any], polls_until_done: int = 1) -> None:
        self.transactions = {t["id"]: t for t in transactions}
        self.requests: list[httpx.Request] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.polls_until_done = polls_until_done
        self.refuse: dict[int, str] = {}  # transaction id -> code Awin reports in the job
        self.job_status_when_done = "DONE"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(
                401,
                json={
                    "error": "unauthorized",
                    "description": "Full authentication is required to access this resource",
                },
            )
        path = request.url.path.removeprefix("/awin")  # the proxy base_url of one test
        account = f"/advertisers/{ADVERTISER}/transactions"
        if request.method == "GET" and path == account:
            ids = [int(i) for i in request.url.params["ids"].split(",")]
            assert request.url.params["timezone"] == "UTC"
            return httpx.Response(
                200, json=[self.transactions[i] for i in ids if i in self.transactions]
            )
        if request.method == "POST" and path == f"{account}/batch":
            assert request.headers["Content-Type"] == "application/json"
            body = orjson.loads(request.content)
            self.batches.append(body)
            job = f"job{len(self.batches):04d}"
            failed = []
            for op in body:
                tid = op["transaction"]["transactionId"]
                if tid in self.refuse:
                    failed.append(
                        {
                            "transactionId": tid,
                            "orderRef": None,
                            "transactionDate": None,
                            "timezone": "",
                            "code": self.refuse[tid],
                        }
                    )
                    continue
                self._apply(op)
            self.jobs[job] = {"polls": 0, "count": len(body), "failed": failed}
            return httpx.Response(202, json={"jobId": job})
        if request.method == "GET" and path.startswith(f"{account}/jobs/"):
            job = self.jobs[path.rsplit("/", 1)[1]]
            job["polls"] += 1
            done = job["polls"] > self.polls_until_done
            errors = request.url.params.get("output") == "errors"
            return httpx.Response(
                200,
                json={
                    "jobId": path.rsplit("/", 1)[1],
                    "status": self.job_status_when_done if done else "PROCESSING",
                    "transactions": job["count"],
                    "errors": len(job["failed"]),
                    "failedTransactions": job["failed"] if errors and done else None,
                },
            )
        if request.method == "GET" and path == f"{account}/jobs":
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"error": "exception", "description": "No handler"})

    def _apply(self, op: dict[str, Any]) -> None:
        t = self.transactions[op["transaction"]["transactionId"]]
        assert t["commissionStatus"] == "pending", "the destination sent a non-pending change"
        if op["action"] == "approve":
            t["commissionStatus"] = "approved"
        elif op["action"] == "decline":
            t["commissionStatus"] = "declined"
            t["declineReason"] = op["transaction"]["declineReason"]
        else:
            body = op["transaction"]
            t["saleAmount"] = {"amount": body["saleAmount"], "currency": body["currency"]}
            t["transactionParts"] = [
                {"commissionGroupCode": p["commissionGroupCode"], "amount": p["amount"]}
                for p in body["transactionParts"]
            ]
            t["amended"] = True
            if op["approve"]:
                t["commissionStatus"] = "approved"

    def posted(self) -> list[dict[str, Any]]:
        return [op for batch in self.batches for op in batch]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def polls(self) -> list[float]:
        """The waits between job polls (the rate limiter's millisecond waits left out)."""
        return [s for s in self.sleeps if s >= 1]


def settings(**overrides: Any) -> AwinValidationSettings:
    return AwinValidationSettings.model_validate(
        {
            "api_token": TOKEN,
            "account_type": "advertiser",
            "account_id": ADVERTISER,
            "requests_per_minute": 60000,
            **overrides,
        }
    )


def destination(
    fake: FakeAwin, clock: Clock | None = None, **overrides: Any
) -> AwinValidationDestination:
    clock = clock or Clock()
    return AwinValidationDestination(
        settings(**overrides),
        transport=httpx.MockTransport(fake),
        sleep=clock.sleep,
        clock=clock,
        now=lambda: NOW,
    )


def rows(*items: dict[str, Any]) -> list[InputRow]:
    return [InputRow("decisions.csv", n + 2, item) for n, item in enumerate(items)]


# -- checking decisions ---------------------------------------------------------------------


def test_a_decisions_csv_becomes_checked_decisions(tmp_path: Path) -> None:
    file = tmp_path / "decisions.csv"
    file.write_text(
        "action,transaction_id,reason,sale_amount,currency,parts,approve\n"
        "approve,3050000001,,,,,\n"
        "Decline, 3050000002 ,order returned,,,,\n"
        "amend,3050000003,Teilretoure,55.96,eur,DEFAULT:44.76|ACC:11.20,true\n",
        encoding="utf-8",
    )
    decisions = parse_decisions(read_rows(file))
    assert [(d.action, d.transaction_id) for d in decisions] == [
        ("approve", 3050000001),
        ("decline", 3050000002),
        ("amend", 3050000003),
    ]
    amend = decisions[2]
    assert amend.sale_amount == Decimal("55.96") and amend.currency == "EUR" and amend.approve
    assert [(p.code, p.amount) for p in amend.parts or ()] == [
        ("DEFAULT", Decimal("44.76")),
        ("ACC", Decimal("11.20")),
    ]
    assert decisions[1].reason == "order returned"
    assert amend.where == f"{file}:4: transaction 3050000003"


def test_every_bad_row_is_named_and_nothing_is_sent() -> None:
    bad = rows(
        {"action": "approve"},
        {"action": "refund", "transaction_id": "1"},
        {"action": "decline", "transaction_id": "2"},
        {
            "action": "amend",
            "transaction_id": "3",
            "reason": "x",
            "sale_amount": "1,5",
            "currency": "EUR",
        },
        {
            "action": "amend",
            "transaction_id": "4",
            "reason": "x",
            "sale_amount": "10.00",
            "currency": "EUR",
            "parts": "DEFAULT:4.00|ACC:5.00",
        },
        {"action": "approve", "transaction_id": "5", "sale_amount": "3"},
        {"action": "approve", "transaction_id": "-6"},
        {
            "action": "amend",
            "transaction_id": "7",
            "reason": "x",
            "sale_amount": "1.234",
            "currency": "EURO",
            "approve": "maybe",
        },
    )
    fake = FakeAwin()
    with pytest.raises(InputFileError) as caught:
        destination(fake).write(bad)
    text = str(caught.value)
    for expected in (
        "decisions.csv:2: transaction_id: no transaction named",
        "decisions.csv:3: action: 'refund' is not an action",
        "decisions.csv:4: reason: a reason is required to decline",
        "decisions.csv:5: sale_amount: '1,5' is not an amount of money",
        "decisions.csv:6: parts: the parts add up to 9.00, not to the sale amount 10.00",
        "decisions.csv:7: sale_amount: only an amend takes sale_amount",
        "decisions.csv:8: transaction_id: '-6' is not an Awin transaction id",
        "decisions.csv:9: sale_amount: '1.234' is not an amount of money",
        "decisions.csv:9: currency: 'EURO' is not an ISO 4217 code",
        "decisions.csv:9: approve: 'maybe' is not true or false",
    ):
        assert expected in text
    assert "Fix:" in text
    assert fake.requests == []


def test_two_different_decisions_for_one_transaction_are_refused() -> None:
    with pytest.raises(
        InputFileError,
        match=r"decisions.csv:3: action: transaction 9 has another "
        r"decision at decisions.csv:2",
    ):
        parse_decisions(
            rows(
                {"action": "approve", "transaction_id": 9},
                {"action": "decline", "transaction_id": 9, "reason": "x"},
            )
        )


def test_json_parts_as_a_list_or_an_object() -> None:
    (a, b) = parse_decisions(
        [
            {
                "action": "amend",
                "transaction_id": 1,
                "reason": "r",
                "sale_amount": 10.5,
                "currency": "EUR",
                "parts": [{"code": "A", "amount": "10.50"}],
            },
            {
                "action": "amend",
                "transaction_id": 2,
                "reason": "r",
                "sale_amount": "3",
                "currency": "EUR",
                "parts": {"A": 1, "B": "2.00"},
                "approve": True,
            },
        ]
    )
    assert a.parts and a.parts[0].amount == Decimal("10.50")
    assert b.parts and [p.code for p in b.parts] == ["A", "B"] and b.approve
    assert a.row.where == "<decisions>: row 1"


# -- what is sent for what Awin holds -------------------------------------------------------


def _decision(**fields: Any) -> Decision:
    (decision,) = parse_decisions([{"transaction_id": 7, **fields}])
    return decision


@pytest.mark.parametrize(
    ("fields", "current", "expected"),
    [
        (
            {"action": "approve"},
            transaction(7),
            {"action": "approve", "transaction": {"transactionId": 7}},
        ),
        ({"action": "approve"}, transaction(7, "approved"), None),
        (
            {"action": "decline", "reason": "Retoure"},
            transaction(7),
            {"action": "decline", "transaction": {"transactionId": 7, "declineReason": "Retoure"}},
        ),
        ({"action": "decline", "reason": "Retoure"}, transaction(7, "declined"), None),
        (
            {"action": "amend", "reason": "Teilretoure", "sale_amount": "60.00", "currency": "EUR"},
            transaction(7),
            {
                "action": "amend",
                "approve": False,
                "transaction": {
                    "transactionId": 7,
                    "amendReason": "Teilretoure",
                    "currency": "EUR",
                    "saleAmount": 60.0,
                    "transactionParts": [{"amount": 60.0, "commissionGroupCode": "DEFAULT"}],
                },
            },
        ),
        (  # amended already and pending: done unless it is to be approved too
            {"action": "amend", "reason": "r", "sale_amount": "100.00", "currency": "EUR"},
            transaction(7),
            None,
        ),
        (
            {
                "action": "amend",
                "reason": "r",
                "sale_amount": "100.00",
                "currency": "EUR",
                "approve": "true",
            },
            transaction(7),
            {"action": "approve", "transaction": {"transactionId": 7}},
        ),
        (
            {
                "action": "amend",
                "reason": "r",
                "sale_amount": "100.00",
                "currency": "EUR",
                "approve": "true",
            },
            transaction(7, "approved"),
            None,
        ),
    ],
)
def test_only_what_would_change_is_sent(
    fields: dict[str, Any], current: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    assert operation(_decision(**fields), current) == expected


@pytest.mark.parametrize(
    ("fields", "current", "message"),
    [
        ({"action": "approve"}, transaction(7, "declined"), "already declined"),
        ({"action": "decline", "reason": "x"}, transaction(7, "approved"), "already approved"),
        (
            {"action": "amend", "reason": "x", "sale_amount": "5", "currency": "EUR"},
            transaction(7, "approved"),
            "already approved",
        ),
        (
            {"action": "amend", "reason": "x", "sale_amount": "5", "currency": "GBP"},
            transaction(7),
            "in EUR, the amendment in GBP",
        ),
        (
            {"action": "amend", "reason": "x", "sale_amount": "5", "currency": "EUR"},
            transaction(7, parts={"DEFAULT": "60.00", "ACC": "40.00"}),
            "2 commission groups",
        ),
    ],
)
def test_what_awin_could_not_do_is_refused_before_sending(
    fields: dict[str, Any], current: dict[str, Any], message: str
) -> None:
    with pytest.raises(Refused, match=message):
        operation(_decision(**fields), current)


def test_amounts_go_out_as_exact_json_numbers() -> None:
    op = operation(
        _decision(
            action="amend",
            reason="r",
            sale_amount="1083.29",
            currency="EUR",
            parts="DEFAULT:1000.10|ACC:83.19",
        ),
        transaction(7, parts={"DEFAULT": "60.00", "ACC": "40.00"}),
    )
    assert op is not None
    text = orjson.dumps(op).decode()
    assert '"saleAmount":1083.29' in text and '"amount":1000.1' in text and '"amount":83.19' in text


# -- the whole write ------------------------------------------------------------------------


def test_write_sends_batches_waits_for_the_jobs_and_is_idempotent() -> None:
    fake = FakeAwin(*(transaction(t) for t in range(1, 6)), transaction(6, "approved"))
    clock = Clock()
    decisions = rows(
        {"action": "approve", "transaction_id": 1},
        {"action": "approve", "transaction_id": 2},
        {"action": "decline", "transaction_id": 3, "reason": "storniert"},
        {
            "action": "amend",
            "transaction_id": 4,
            "reason": "Teilretoure",
            "sale_amount": "40.00",
            "currency": "EUR",
            "approve": "yes",
        },
        {"action": "approve", "transaction_id": 6},  # already approved
        {"action": "approve", "transaction_id": 1},  # the same decision twice
    )
    result = destination(fake, clock, batch_size=2).write(decisions)

    assert (result.sent, result.unchanged, result.failed) == (4, 2, 0), result.summary()
    assert [len(batch) for batch in fake.batches] == [2, 2]
    assert result.to_send == {"approve": 2, "decline": 1, "amend": 1}
    assert [job["status"] for job in result.jobs] == ["DONE", "DONE"]
    assert clock.polls() == [15.0, 15.0]  # one PROCESSING answer per job
    assert {t: fake.transactions[t]["commissionStatus"] for t in range(1, 6)} == {
        1: "approved",
        2: "approved",
        3: "declined",
        4: "approved",
        5: "pending",
    }
    assert result.outcomes[3] == ("decline", "job0002", "done")

    again = destination(fake, clock, batch_size=2).write(decisions)
    assert (again.sent, again.unchanged, again.failed) == (0, 6, 0)
    assert len(fake.batches) == 2  # nothing more was posted


def test_refusals_are_reported_per_decision() -> None:
    fake = FakeAwin(transaction(1), transaction(2), transaction(3, "declined"))
    fake.refuse[2] = "[409 CONFLICT] transaction is locked"
    result = destination(fake).write(
        rows(
            {"action": "approve", "transaction_id": 1},
            {"action": "approve", "transaction_id": 2},
            {"action": "approve", "transaction_id": 3},
            {"action": "approve", "transaction_id": 404},
        )
    )
    assert (result.sent, result.failed) == (1, 3)
    assert result.errors == [
        "decisions.csv:4: transaction 3 (approve): the transaction is already declined; Awin "
        "changes only pending transactions",
        "decisions.csv:5: transaction 404 (approve): advertiser 15880 has no such transaction "
        "(or it was deleted)",
        "decisions.csv:3: transaction 2 (approve): Awin refused it: [409 CONFLICT] transaction "
        "is locked",
    ]
    assert result.outcomes == {
        1: ("approve", "job0001", "done"),
        2: ("approve", "job0001", "refused"),
    }


def test_a_job_still_processing_at_the_timeout_is_said_so() -> None:
    fake = FakeAwin(transaction(1), polls_until_done=100)
    clock = Clock()
    result = destination(fake, clock, job_poll_seconds=10, job_timeout_seconds=35).write(
        rows({"action": "approve", "transaction_id": 1})
    )
    assert clock.polls() == [10, 10, 10]
    assert result.sent == 1 and result.outcomes[1][2] == "processing"
    assert "still processing after 35 s" in result.errors[0]

    fake.job_status_when_done = "FAILED"
    fake.polls_until_done = 0
    fake.transactions[2] = transaction(2)
    failed = destination(fake, clock).write(rows({"action": "approve", "transaction_id": 2}))
    assert failed.failed == 1 and "job0002 failed (FAILED)" in failed.errors[0]


def test_without_waiting_the_batches_are_only_accepted() -> None:
    fake = FakeAwin(transaction(1))
    result = destination(fake, wait_for_jobs=False).write(
        rows({"action": "approve", "transaction_id": 1})
    )
    assert result.sent == 1 and result.outcomes[1] == ("approve", "job0001", "processing")
    assert not [r for r in fake.requests if "/jobs/" in r.url.path]
    assert result.errors == []


def test_dry_run_reads_but_sends_nothing_and_prints_the_operations() -> None:
    fake = FakeAwin(transaction(1), transaction(2, "approved"))
    result = destination(fake, base_url="https://proxy.example/awin").write(
        rows(
            {"action": "decline", "transaction_id": 1, "reason": "Ware retourniert"},
            {"action": "approve", "transaction_id": 2},
        ),
        dry_run=True,
    )
    assert fake.batches == [] and all(r.method == "GET" for r in fake.requests)
    assert result.sent == 0 and result.unchanged == 1 and result.to_send == {"decline": 1}
    assert result.planned == [
        {
            "method": "POST",
            "path": f"/awin/advertisers/{ADVERTISER}/transactions/batch",
            "body": [
                {
                    "action": "decline",
                    "transaction": {"transactionId": 1, "declineReason": "Ware retourniert"},
                }
            ],
        }
    ]
    summary = result.summary()
    assert summary.splitlines()[0] == (
        "Awin validations (dry run, nothing sent): to send 1 decline; 1 unchanged, 0 failed"
    )
    assert '"declineReason":"Ware retourniert"' in summary
    assert TOKEN not in summary


def test_read_back_goes_in_chunks_of_lookup_batch_size() -> None:
    fake = FakeAwin(*(transaction(t) for t in range(1, 8)))
    destination(fake, lookup_batch_size=3).write(
        rows(*({"action": "approve", "transaction_id": t} for t in range(1, 8))), dry_run=True
    )
    asked = [r.url.params["ids"] for r in fake.requests]
    assert asked == ["1,2,3", "4,5,6", "7"]


def test_a_refused_token_stops_with_a_hint_and_no_secret() -> None:
    fake = FakeAwin(transaction(1))
    dest = destination(fake, api_token="wrong-token-abcdef123456")
    with pytest.raises(AuthError) as caught:
        dest.write(rows({"action": "approve", "transaction_id": 1}))
    assert caught.value.hint and "api_token" in caught.value.hint
    assert "wrong-token-abcdef123456" not in str(caught.value)


def test_settings_are_for_advertisers_only() -> None:
    with pytest.raises(ValidationError, match="account_type must be advertiser"):
        settings(account_type="publisher", account_id=300401)
    with pytest.raises(ValidationError):
        settings(batch_size=40_001)
    assert settings().start_date is None  # the source's block works without it too


# -- the store: targets by conversion or order, links recorded ------------------------------


def conversion(tid: int, order_ref: str | None, advertiser: int = ADVERTISER) -> dict[str, Any]:
    return {
        "id": make_id("alpenglueck", "awin", "conversion", str(tid)),
        "tenant": "alpenglueck",
        "source": "awin",
        "connection": "awin-at",
        "external_id": str(tid),
        "source_updated_at": datetime(2025, 4, 1, tzinfo=UTC),
        "synced_at": datetime(2025, 4, 2, tzinfo=UTC),
        "extra": {"advertiserId": advertiser},
        "order_ref": order_ref,
        "status": "pending",
        "amount": Decimal("100.00"),
        "currency": "EUR",
    }


def test_conversions_and_order_refs_are_resolved_from_the_store(store: Store) -> None:
    with store.transaction() as connection:
        store.upsert(
            connection,
            "conversion",
            [
                conversion(11, "1001"),
                conversion(12, "1002"),
                conversion(13, "1002"),
                conversion(14, "1004", advertiser=99999),
            ],
        )
    given = rows(
        {"action": "approve", "conversion_id": make_id("alpenglueck", "awin", "conversion", "11")},
        {"action": "approve", "order_ref": "1001"},
        {"action": "approve", "transaction_id": "55"},
    )
    resolved = resolve_targets(store, "alpenglueck", given, ADVERTISER)
    assert [r["transaction_id"] for r in resolved] == ["11", "11", "55"]
    assert resolved[1].where == "decisions.csv:3"

    with pytest.raises(InputFileError) as caught:
        resolve_targets(
            store,
            "alpenglueck",
            rows(
                {"action": "approve", "order_ref": "1002"},
                {"action": "approve", "order_ref": "1004"},
                {"action": "approve", "conversion_id": "nope"},
            ),
            ADVERTISER,
        )
    text = str(caught.value)
    assert "decisions.csv:2: order_ref: order_ref '1002' names 2 Awin transactions (12, 13)" in text
    assert "decisions.csv:3: order_ref: no stored Awin conversion has order_ref '1004'" in text
    assert "decisions.csv:4: conversion_id: no stored Awin conversion nope" in text
    assert "hub sync" in text


def test_push_records_what_was_sent_on_the_conversion(store: Store) -> None:
    with store.transaction() as connection:
        store.upsert(connection, "conversion", [conversion(11, "1001"), conversion(12, "1002")])
    fake = FakeAwin(transaction(11), transaction(12))
    result = destination(fake).push(
        store,
        tenant="alpenglueck",
        rows=rows({"action": "decline", "order_ref": "1001", "reason": "storniert"}),
    )
    assert result.sent == 1
    extra = _extra(store, 11)
    assert extra[LINKS_KEY] == {
        "awin_validation": {
            "action": "decline",
            "job_id": "job0001",
            "status": "done",
            "sent_at": NOW.isoformat(),
        }
    }
    assert LINKS_KEY not in _extra(store, 12)
    # the links survive the next sync of the transaction
    newer = {
        **conversion(11, "1001"),
        "status": "declined",
        "source_updated_at": datetime(2025, 5, 3, tzinfo=UTC),
    }
    with store.transaction() as connection:
        store.upsert(connection, "conversion", [newer])
    assert _extra(store, 11)[LINKS_KEY]["awin_validation"]["action"] == "decline"
    assert record_validations(store, "alpenglueck", {11: ("decline", "job0001", "done")}, NOW) == 0


def test_push_without_decisions_says_how_to_give_them(store: Store) -> None:
    with pytest.raises(FatalConnectorError) as caught:
        destination(FakeAwin()).push(store, tenant="alpenglueck")
    assert caught.value.hint and "--input decisions.csv" in caught.value.hint


def _extra(store: Store, tid: int) -> dict[str, Any]:
    table = store.table("conversion")
    with store.transaction() as connection:
        row = connection.execute(
            table.select().where(
                table.c.id == make_id("alpenglueck", "awin", "conversion", str(tid))
            )
        ).one()
    return dict(row.extra)
