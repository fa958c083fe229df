"""The Awin connector replaying hand-written cassettes (tests/cassettes/awin/*.yaml).

Each cassette follows ``../shared/reference/apis.md`` §2 (its first comment says
which parts and which connection it assumes). The connector runs with its real
httpx transport, which vcrpy intercepts; replay only, so a request the cassette
does not hold fails the test. The cassettes pin the wire behaviour (the
documented path with its trailing slash, the query exactly as sent, consecutive
date windows, a 429 repeated on the same URL after a minute, a 401 not
repeated), and the records go through ``mappings/awin.yaml`` and the canonical
models (and, once, through the real runner into SQLite), so each trap of
apis.md §2.7 is checked where it matters: in the rows.

The expected values below are worked out by hand from the cassettes' JSON and
the reference (Berlin is UTC+1 until 2025-03-30 02:00, UTC+2 after; London is
UTC+0 until 01:00 UTC that day, UTC+1 after), not taken from the code's output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy import select, text

from connectors.awin import AwinConnector, mapping_file
from connectors.awin.converters import CONVERTERS
from connectors.awin.settings import AwinSettings
from hub.config import HubConfig, load_config
from hub.connector import Checkpoint, Message, Record
from hub.errors import AuthError
from hub.mapping import Mappings
from hub.plugins import Registered, Registry
from hub.runner import SyncRunner
from hub.schema import ENTITIES, make_id
from hub.state import load_state
from hub.store import Store
from tests.connectors.awin.samples import ADVERTISER_ID, PUBLISHER_ID
from tests.connectors.cassette import (
    CASSETTES,
    Replay,
    cassette_files,
    scan_for_secrets,
    use_cassette,
)

#: A fake, recognisable token; the cassettes must never contain it.
TOKEN = "awin-cassette-token-5e1f0a9c3b7d"
API = "https://api.awin.com"
TENANT = "alpenglueck"
CONNECTION = "awin"
#: The "now" every cassette was written for: the end of the last window.
NOW = datetime(2025, 4, 10, 12, 0, tzinfo=UTC)
MAPPINGS = Mappings([mapping_file()], CONVERTERS)
AWIN_DIR = CASSETTES / "awin"

#: apis.md §2.4, "Transaction object (full field list)", in the order of the table.
TRANSACTION_FIELDS = frozenset(
    {
        "id",
        "url",
        "advertiserId",
        "publisherId",
        "commissionSharingPublisherId",
        "commissionSharingSelectedRatePublisherId",
        "campaign",
        "siteName",
        "commissionStatus",
        "commissionAmount",
        "saleAmount",
        "ipHash",
        "customerCountry",
        "clickRefs",
        "clickDate",
        "transactionDate",
        "validationDate",
        "type",
        "declineReason",
        "voucherCodeUsed",
        "voucherCode",
        "lapseTime",
        "amended",
        "amendReason",
        "oldSaleAmount",
        "oldCommissionAmount",
        "clickDevice",
        "transactionDevice",
        "customerAcquisition",
        "publisherUrl",
        "advertiserCountry",
        "orderRef",
        "customParameters",
        "transactionParts",
        "paidToPublisher",
        "paymentId",
        "transactionQueryId",
        "trackedCurrencyAmount",
        "originalSaleAmount",
        "advertiserCost",
        "networkFee",
        "basketProducts",
    }
)

# Transaction ids of transactions_two_windows.yaml, named by the trap each one shows.
MULTI_PART = 3050001215  # approved, three commission groups, voucher, tracked in CHF
DST_BASKET = 3050001203  # pending, around the DST switch, voucher, basket products
BOUNDARY = 3050001262  # pending, on the boundary second of both windows, clickRef ""
DECLINED = 3050001240  # declined with its amounts, all six clickRefs in non-ASCII
AMENDED = 3050001188  # approved and amended, clickRefs with clickRef only
LATE = 3050001277  # pending, second window, basketProducts []

Row = dict[str, Any]


# --------------------------------------------------------------------------- helpers


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps (no real waits)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(**overrides: Any) -> AwinSettings:
    """The connection of transactions_two_windows.yaml; other cassettes name their overrides."""
    raw = {
        "api_token": TOKEN,
        "account_type": "advertiser",
        "account_id": ADVERTISER_ID,
        "start_date": "2025-03-20",
        "timezone": "Europe/Berlin",
        "window_days": 14,
        **overrides,
    }
    return AwinSettings.model_validate(raw)


def read(
    cassette: str,
    streams: Sequence[str] = ("transactions",),
    clock: FakeClock | None = None,
    **overrides: Any,
) -> tuple[list[Message], Replay]:
    """Every message of ``streams`` read through ``cassette`` (real httpx transport)."""
    clock = clock or FakeClock()
    with use_cassette(f"awin/{cassette}") as replay:
        connector = AwinConnector(
            settings(**overrides), sleep=clock.sleep, clock=clock, now=lambda: NOW
        )
        try:
            messages = list(connector.read(list(streams), {}))
        finally:
            connector.close()
    return messages, replay


def records(messages: Sequence[Message], stream: str = "transactions") -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, Record) and m.stream == stream]


def checkpoints(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.state for m in messages if isinstance(m, Checkpoint)]


def normalize(stream: str, messages: Sequence[Message]) -> dict[str, list[Row]]:
    """The records of ``stream`` mapped by mappings/awin.yaml and validated as the runner does."""
    mapping = MAPPINGS.compile("awin", stream)
    rows: dict[str, list[Row]] = {}
    for record in records(messages, stream):
        for entity, row in mapping(record, tenant=TENANT, connection=CONNECTION):
            model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
            rows.setdefault(entity, []).append(model.model_dump())
    return rows


def conversions(rows: dict[str, list[Row]]) -> dict[int, Row]:
    """Conversions by Awin transaction id (each transaction is yielded once per run)."""
    found = {int(row["external_id"]): row for row in rows["conversion"]}
    assert len(found) == len(rows["conversion"]), "a transaction was mapped twice"
    return found


def query(url: str) -> list[tuple[str, str]]:
    """The query of ``url`` as (name, value) pairs, in order, decoded."""
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cassette_transactions(name: str) -> list[dict[str, Any]]:
    """Every transaction object the cassette ``name`` answers, as written."""
    document = yaml.safe_load((AWIN_DIR / name).read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = []
    for interaction in document["interactions"]:
        if "/transactions/" not in interaction["request"]["uri"]:
            continue
        body = interaction["response"]["body"]["string"]
        if interaction["response"]["status"]["code"] == 200:
            found += json.loads(body)
    return found


@pytest.fixture(scope="module")
def two_windows() -> tuple[list[Message], Replay, FakeClock]:
    clock = FakeClock()
    messages, replay = read("transactions_two_windows.yaml", clock=clock)
    return messages, replay, clock


@pytest.fixture(scope="module")
def advertiser_rows(
    two_windows: tuple[list[Message], Replay, FakeClock],
) -> dict[str, list[Row]]:
    return normalize("transactions", two_windows[0])


# --------------------------------------------------------------------------- the wire


def test_first_sync_asks_two_windows_with_the_documented_path_and_parameters(
    two_windows: tuple[list[Message], Replay, FakeClock],
) -> None:
    messages, replay, clock = two_windows
    assert replay.urls == replay.recorded_urls  # exactly as written, in order
    first, second = replay.urls
    path = f"{API}/advertisers/{ADVERTISER_ID}/transactions/?"  # the trailing slash is kept
    assert first.startswith(path) and second.startswith(path)
    # start_date 00:00 Berlin; 14-day windows on the wall clock; the last ends at NOW
    # (12:00 UTC = 14:00 CEST); consecutive windows share their boundary second.
    assert query(first) == [
        ("startDate", "2025-03-20T00:00:00"),
        ("endDate", "2025-04-03T00:00:00"),
        ("timezone", "Europe/Berlin"),
        ("dateType", "transaction"),
        ("showBasketProducts", "true"),
    ]
    assert query(second)[:2] == [
        ("startDate", "2025-04-03T00:00:00"),
        ("endDate", "2025-04-10T14:00:00"),
    ]
    assert "%3A" in first and "Europe%2FBerlin" in first  # colons and slash percent-encoded
    # window ends as UTC instants: 2025-04-03 00:00 CEST, then NOW
    assert checkpoints(messages) == [
        {"window_end": "2025-04-02T22:00:00+00:00"},
        {"window_end": "2025-04-10T12:00:00+00:00"},
    ]
    assert isinstance(messages[-1], Checkpoint)
    # 20 calls per minute, burst 1: the second request waits one 3-second slot.
    assert clock.sleeps == [3.0]


def test_the_token_is_sent_as_a_bearer_header_that_the_cassette_leaves_out(
    two_windows: tuple[list[Message], Replay, FakeClock],
) -> None:
    _, replay, _ = two_windows
    for sent in replay.sent:
        assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in sent.uri and "accessToken" not in sent.uri
        stored = replay.cassette.filter_request(sent)  # what vcrpy would record
        assert "Authorization" not in stored.headers
        assert TOKEN not in json.dumps(dict(stored.headers))


def test_unsorted_results_and_the_boundary_transaction_is_yielded_once(
    two_windows: tuple[list[Message], Replay, FakeClock],
) -> None:
    messages = two_windows[0]
    written = cassette_transactions("transactions_two_windows.yaml")
    first_answer = [t["transactionDate"] for t in written[:5]]
    assert first_answer != sorted(first_answer)  # trap 7: the array is not sorted
    # Records in answer order; the boundary transaction was in both answers, yielded once.
    assert [r["id"] for r in records(messages)] == [
        MULTI_PART,
        DST_BASKET,
        BOUNDARY,
        DECLINED,
        AMENDED,
        LATE,
    ]
    assert [t["id"] for t in written].count(BOUNDARY) == 2


def test_dates_without_offset_are_berlin_wall_clock_converted_to_utc_across_the_dst_switch(
    two_windows: tuple[list[Message], Replay, FakeClock],
    advertiser_rows: dict[str, list[Row]],
) -> None:
    by_id = {r["id"]: r for r in records(two_windows[0])}
    basket = by_id[DST_BASKET]
    # clicked 01:45 CET (+01:00), bought 03:10 CEST (+02:00): 25 minutes, as lapseTime says
    assert basket["clickDate"] == "2025-03-30T00:45:00+00:00"
    assert basket["transactionDate"] == "2025-03-30T01:10:00+00:00"
    lapse = datetime.fromisoformat(basket["transactionDate"]) - datetime.fromisoformat(
        basket["clickDate"]
    )
    assert lapse.total_seconds() == basket["lapseTime"] == 1500
    assert basket["validationDate"] is None
    assert {r["_hub"]["timezone"] for r in by_id.values()} == {"Europe/Berlin"}

    rows = conversions(advertiser_rows)
    occurred = {tid: row["occurred_at"] for tid, row in rows.items()}
    assert occurred == {
        MULTI_PART: utc(2025, 3, 30, 12, 20),  # 14:20 CEST
        DST_BASKET: utc(2025, 3, 30, 1, 10),  # 03:10 CEST
        BOUNDARY: utc(2025, 4, 2, 22, 0),  # 00:00 CEST on Apr 3
        DECLINED: utc(2025, 3, 27, 21, 58),  # 22:58 CET
        AMENDED: utc(2025, 3, 21, 18, 42),  # 19:42 CET
        LATE: utc(2025, 4, 8, 9, 12),  # 11:12 CEST
    }
    validated = {tid: row["validated_at"] for tid, row in rows.items()}
    assert validated == {
        MULTI_PART: utc(2025, 4, 2, 8, 0),
        DST_BASKET: None,
        BOUNDARY: None,
        DECLINED: utc(2025, 4, 2, 14, 5),
        AMENDED: utc(2025, 4, 1, 7, 30),
        LATE: None,
    }
    for row in rows.values():  # validated rows are newer than their pending versions
        assert row["source_updated_at"] == (row["validated_at"] or row["occurred_at"])
        assert row["occurred_at"].tzinfo is not None


# --------------------------------------------------------------------------- the rows


def test_pending_sale_with_voucher_and_basket_products(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    conversion = conversions(advertiser_rows)[DST_BASKET]
    assert conversion["status"] == "pending"
    assert (conversion["amount"], conversion["currency"]) == (Decimal("125.00"), "EUR")
    assert (conversion["commission_amount"], conversion["commission_currency"]) == (
        Decimal("10.00"),
        "EUR",
    )
    assert conversion["order_ref"] == "2107"
    assert conversion["voucher_codes"] == ["FRUEHLING15"]
    assert conversion["click_ref"] is None  # clickRefs null
    assert conversion["customer_type"] == "new"
    assert (conversion["device"], conversion["country"]) == ("iPhone", "DE")
    assert (conversion["channel_source"], conversion["channel_medium"]) == ("awin", "affiliate")
    assert conversion["decline_reason"] is None
    assert conversion["extra"]["customParameters"] == [{"key": "1", "value": "shopify"}]

    items = [
        i for i in advertiser_rows["conversion_item"] if i["conversion_id"] == conversion["id"]
    ]
    assert [(i["line_ref"], i["sku"], i["title"], i["category"]) for i in items] == [
        ("9100000000101", "ALP-STOCK-KW-PAAR", "Trekkingstöcke Karwendel (Paar)", "Wanderzubehör"),
        ("9100000000102", None, "Merino-Socken „Gipfel“ 3er-Pack", "Bekleidung"),  # skuCode ""
    ]
    assert [(i["quantity"], i["unit_price"], i["amount"]) for i in items] == [
        (2, Decimal("45.00"), Decimal("90.00")),
        (1, Decimal("35.00"), Decimal("35.00")),
    ]
    assert sum(i["amount"] for i in items) == conversion["amount"]
    assert {(i["currency"], i["commission_group"]) for i in items} == {("EUR", "DEFAULT")}
    assert [i["external_id"] for i in items] == [f"{DST_BASKET}:0", f"{DST_BASKET}:1"]


def test_conversion_items_exist_only_where_basket_products_do(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    ids = conversions(advertiser_rows)
    with_items = {i["conversion_id"] for i in advertiser_rows["conversion_item"]}
    # null on four transactions, [] on LATE: no rows for any of them
    assert with_items == {ids[DST_BASKET]["id"]}
    assert len(advertiser_rows["conversion_item"]) == 2


def test_amended_sale_keeps_the_new_amounts_and_the_old_ones_in_extra(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    conversion = conversions(advertiser_rows)[AMENDED]
    assert conversion["status"] == "approved"
    assert conversion["amount"] == Decimal("79.90") and conversion["currency"] == "EUR"
    assert conversion["commission_amount"] == Decimal("6.39")
    extra = conversion["extra"]
    assert extra["amended"] is True
    assert extra["amendReason"] == "Teilretoure: Stirnlampe zurückgeschickt"
    assert extra["oldSaleAmount"] == {"amount": 109.8, "currency": "EUR"}
    assert extra["oldCommissionAmount"] == {"amount": 8.78, "currency": "EUR"}
    # the amendment took back 29.90 of sale and 2.39 of commission (8 % of the goods)
    old = Decimal(str(extra["oldSaleAmount"]["amount"]))
    assert old - conversion["amount"] == Decimal("29.90")
    # trackedParts keep the value as originally tracked (not amended)
    assert extra["transactionParts"][0]["trackedParts"] == [
        {"code": "DEFAULT", "amount": 109.8, "currency": "EUR"}
    ]
    assert conversion["click_ref"] == "osterspecial"  # partial clickRefs: clickRef only
    assert conversion["customer_type"] == "returning"
    assert conversion["device"] == "Macintosh"


def test_declined_sale_keeps_its_amount_currency_and_reason(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    conversion = conversions(advertiser_rows)[DECLINED]
    assert conversion["status"] == "declined"
    assert conversion["amount"] == Decimal("97.50") and conversion["currency"] == "EUR"
    assert conversion["commission_amount"] == Decimal("7.80")
    assert conversion["commission_currency"] == "EUR"
    assert (
        conversion["decline_reason"] == "Bestellung storniert \u2013 Zahlung nicht eingegangen"
    )  # an en dash
    assert conversion["device"] == "Windows"  # transactionDevice wins over clickDevice
    assert conversion["voucher_codes"] == []
    assert conversion["customer_type"] == "unknown"


def test_sums_by_status_leave_the_declined_sale_out(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    totals: dict[str, Decimal] = {}
    for row in conversions(advertiser_rows).values():
        totals[row["status"]] = totals.get(row["status"], Decimal(0)) + row["amount"]
    assert totals == {
        "pending": Decimal("125.0") + Decimal("55.0") + Decimal("64.9"),
        "approved": Decimal("79.9") + Decimal("209.85"),
        "declined": Decimal("97.5"),
    }
    assert all(type(value) is Decimal for value in totals.values())


def test_one_sale_with_three_commission_groups_keeps_its_parts_queryable(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    conversion = conversions(advertiser_rows)[MULTI_PART]
    assert conversion["status"] == "approved"
    assert (conversion["amount"], conversion["commission_amount"]) == (
        Decimal("209.85"),
        Decimal("16.38"),
    )
    assert conversion["voucher_codes"] == ["WANDERWELT5"]
    # tracked in the shopper's currency: the presentment money
    assert (conversion["presentment_amount"], conversion["presentment_currency"]) == (
        Decimal("201.46"),
        "CHF",
    )
    assert (conversion["country"], conversion["device"]) == ("CH", "iPad")
    parts = conversion["extra"]["transactionParts"]
    assert [(p["commissionGroupCode"], p["commissionGroupName"]) for p in parts] == [
        ("DEFAULT", "Default"),
        ("SALE", "Sale items"),
        ("ACC", "Accessories"),
    ]
    # Σ amount = saleAmount and Σ commissionAmount = commissionAmount (apis.md §2.4)
    assert sum(Decimal(str(p["amount"])) for p in parts) == conversion["amount"]
    assert (
        sum(Decimal(str(p["commissionAmount"])) for p in parts) == (conversion["commission_amount"])
    )
    tracked = [t for p in parts for t in p["trackedParts"]]
    assert {t["currency"] for t in tracked} == {"CHF"}
    assert sum(Decimal(str(t["amount"])) for t in tracked) == conversion["presentment_amount"]
    assert conversion["extra"]["campaign"] == "fruehjahr-2025"
    assert conversion["extra"]["networkFee"] == {"amount": 4.91, "currency": "EUR"}


def test_commission_groups_of_the_parts_become_shared_offer_references(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    offers = {row["id"]: row for row in advertiser_rows["offer"]}
    expected = {"88101": "Default", "88102": "Accessories", "88103": "Sale items"}
    assert {row["external_id"]: row["name"] for row in offers.values()} == expected
    assert set(offers) == {make_id(TENANT, "awin", "offer", key) for key in expected}
    assert {row["kind"] for row in offers.values()} == {"commission_group"}


def test_click_refs_null_partial_blank_and_all_six_non_ascii(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    rows = conversions(advertiser_rows)
    assert {tid: row["click_ref"] for tid, row in rows.items()} == {
        MULTI_PART: "rucksack-test-2025",
        DST_BASKET: None,  # clickRefs null
        BOUNDARY: None,  # clickRef "" is no click ref
        DECLINED: "größentabelle",
        AMENDED: "osterspecial",  # {"clickRef": ...} only
        LATE: "wk15-top10",
    }
    # the other five stay in extra, non-ASCII intact
    assert rows[DECLINED]["extra"]["clickRefs"] == {
        "clickRef2": "über-uns",
        "clickRef3": "Straße",
        "clickRef4": "café-crème",
        "clickRef5": "naïve",
        "clickRef6": "Ærøskøbing ✓",
    }
    assert rows[BOUNDARY]["extra"]["clickRefs"]["clickRef2"] == "newsletter-kw14"
    assert rows[MULTI_PART]["extra"]["clickRefs"] == {"clickRef2": "sidebar"}
    assert "clickRef" not in (rows[AMENDED]["extra"].get("clickRefs") or {})


def test_each_publisher_becomes_a_partner_reference(
    advertiser_rows: dict[str, list[Row]],
) -> None:
    partners = {row["external_id"]: row for row in advertiser_rows["partner"]}
    assert {key: (row["name"], row["website"]) for key, row in partners.items()} == {
        "300401": ("Wanderwelt Magazin", "https://www.wanderwelt-magazin.example"),
        "300555": ("Gutschein-Paradies", "https://gutschein-paradies.example"),
        "300777": ("Cashback Kompass", "https://www.cashback-kompass.example"),
    }
    assert {(row["kind"], row["network"]) for row in partners.values()} == {("publisher", "awin")}
    rows = conversions(advertiser_rows)
    assert rows[DECLINED]["partner_id"] == make_id(TENANT, "awin", "partner", "300777")
    assert (
        rows[AMENDED]["partner_id"]
        == rows[MULTI_PART]["partner_id"]
        == (make_id(TENANT, "awin", "partner", "300401"))
    )


# --------------------------------------------------------------------------- publisher side


def test_a_publisher_reads_the_same_sales_in_its_own_zone_and_its_programmes() -> None:
    messages, replay = read(
        "publisher_transactions_and_programmes.yaml",
        streams=("transactions", "partners"),
        account_type="publisher",
        account_id=PUBLISHER_ID,
        timezone="Europe/London",
        start_date="2025-03-25",
        window_days=30,
    )
    assert replay.urls == replay.recorded_urls
    transactions_url, programmes_url = replay.urls
    assert transactions_url.startswith(f"{API}/publishers/{PUBLISHER_ID}/transactions/?")
    assert query(transactions_url) == [
        ("startDate", "2025-03-25T00:00:00"),
        ("endDate", "2025-04-10T13:00:00"),  # NOW (12:00 UTC) in BST
        ("timezone", "Europe/London"),
        ("dateType", "transaction"),
        ("showBasketProducts", "true"),
    ]
    assert programmes_url == f"{API}/publishers/{PUBLISHER_ID}/programmes?relationship=joined"
    assert checkpoints(messages) == [{"window_end": "2025-04-10T12:00:00+00:00"}, {}]

    rows = conversions(normalize("transactions", messages))
    # London wall clock (GMT before 01:00 UTC on Mar 30, BST after): the same instants
    # as Berlin's answer to the advertiser.
    assert rows[MULTI_PART]["occurred_at"] == utc(2025, 3, 30, 12, 20)
    assert rows[MULTI_PART]["validated_at"] == utc(2025, 4, 2, 8, 0)
    assert rows[MULTI_PART]["extra"]["clickDate"] == "2025-03-29T20:05:00+00:00"
    assert rows[LATE]["occurred_at"] == utc(2025, 4, 8, 9, 12)
    assert rows[MULTI_PART]["extra"]["_hub"]["timezone"] == "Europe/London"
    assert rows[MULTI_PART]["amount"] == Decimal("209.85")
    assert rows[MULTI_PART]["partner_id"] == make_id(TENANT, "awin", "partner", str(PUBLISHER_ID))

    (programme,) = normalize("partners", messages)["partner"]
    assert programme["external_id"] == str(ADVERTISER_ID)
    assert (programme["name"], programme["kind"]) == ("Alpenglück Outdoor AT", "merchant")
    assert programme["website"] == "https://www.alpenglueck.example"
    assert (programme["country"], programme["status"]) == ("AT", "active")
    assert programme["categories"] == ["Sports & Outdoor"]
    assert programme["network"] == "awin" and programme["network_partner_id"] == "15880"


def test_the_publishers_of_an_advertiser_become_partners() -> None:
    messages, replay = read("partners.yaml", streams=("partners",))
    assert replay.urls == [f"{API}/advertisers/{ADVERTISER_ID}/publishers"]
    assert checkpoints(messages) == [{}]
    partners = {row["external_id"]: row for row in normalize("partners", messages)["partner"]}
    assert {key: (row["name"], row["kind"], row["country"]) for key, row in partners.items()} == {
        "300401": ("Wanderwelt Magazin", "content", "AT"),
        "300555": ("Gutschein-Paradies", "voucher", "DE"),
        "300777": ("Cashback Kompass", "cashback", "DE"),  # "de" upper-cased
        "300912": ("Bergpost Newsletter", "publisher", None),  # no primaryRegion
    }
    assert {row["network"] for row in partners.values()} == {"awin"}
    assert partners["300401"]["network_partner_id"] == "300401"
    # the same ids as the transactions' partner references: one row per publisher
    assert partners["300401"]["id"] == make_id(TENANT, "awin", "partner", "300401")
    assert partners["300401"]["extra"]["salesRegions"][1] == {
        "countryCode": "DE",
        "name": "Germany",
    }


# --------------------------------------------------------------------------- errors


def test_a_refused_token_raises_auth_error_with_awins_message_and_a_hint_not_the_token() -> None:
    clock = FakeClock()
    with use_cassette("awin/transactions_401.yaml") as replay:
        connector = AwinConnector(
            settings(start_date="2025-04-01"), sleep=clock.sleep, clock=clock, now=lambda: NOW
        )
        try:
            with pytest.raises(AuthError) as caught:
                list(connector.read(["transactions"], {}))
        finally:
            connector.close()
    assert replay.urls == replay.recorded_urls  # one request: a 401 is not repeated
    assert clock.sleeps == []
    error = caught.value
    assert "HTTP 401" in error.message
    assert "unauthorized: Full authentication is required to access this resource" in (
        error.message
    )
    assert error.hint is not None and "api_token" in error.hint
    assert "API Credentials" in error.hint
    for shown in (str(error), repr(error.args), error.message, error.hint):
        assert TOKEN not in shown


def test_a_429_without_retry_after_waits_a_minute_and_repeats_the_same_url() -> None:
    clock = FakeClock()
    messages, replay = read("transactions_429.yaml", clock=clock, start_date="2025-04-01")
    first, repeat = replay.urls
    assert [first, repeat] == replay.recorded_urls and repeat == first
    assert query(first)[:2] == [
        ("startDate", "2025-04-01T00:00:00"),
        ("endDate", "2025-04-10T14:00:00"),
    ]
    # Awin documents no Retry-After: the whole per-minute window, once; after it the
    # 20/minute bucket has refilled, so no further wait.
    assert clock.sleeps == [60.0]
    assert [r["id"] for r in records(messages)] == [LATE]
    assert checkpoints(messages) == [{"window_end": "2025-04-10T12:00:00+00:00"}]
    (row,) = normalize("transactions", messages)["conversion"]
    assert (row["amount"], row["currency"], row["status"]) == (Decimal("64.90"), "EUR", "pending")
    assert row["occurred_at"] == utc(2025, 4, 8, 9, 12)


# --------------------------------------------------------------------------- the runner


class _ReplayedAwin(AwinConnector):
    """The real connector with injected time (the runner builds connectors itself)."""

    clock = FakeClock()

    def __init__(self, config: BaseModel, **kwargs: Any) -> None:
        super().__init__(
            config, sleep=self.clock.sleep, clock=self.clock, now=lambda: NOW, **kwargs
        )


@pytest.fixture
def awin_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubConfig:
    monkeypatch.setenv("AWIN_CASSETTE_TOKEN", TOKEN)
    document = {
        "database": f"sqlite:///{tmp_path / 'hub.db'}",
        "tenants": {TENANT: {"name": "Alpenglück Outdoor"}},
        "connections": {
            CONNECTION: {
                "connector": "awin",
                "tenant": TENANT,
                "streams": ["transactions"],
                "config": {
                    "api_token": "${AWIN_CASSETTE_TOKEN}",
                    "account_type": "advertiser",
                    "account_id": ADVERTISER_ID,
                    "start_date": "2025-03-20",
                    "timezone": "Europe/Berlin",
                    "window_days": 14,
                },
            }
        },
    }
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(tmp_path / "hub.yaml")


@pytest.fixture
def runner(awin_hub: HubConfig) -> Iterator[tuple[SyncRunner, Store]]:
    store = Store(awin_hub.database_url())
    store.create_all()
    registry = Registry(
        connectors={"awin": Registered("awin", _ReplayedAwin, "awin", "tests", "0")}
    )
    yield SyncRunner(awin_hub, store, registry=registry, mappings=MAPPINGS), store
    store.dispose()


def test_a_sync_stores_every_transaction_once_and_the_parts_answer_sql(
    runner: tuple[SyncRunner, Store],
) -> None:
    sync, store = runner
    with use_cassette("awin/transactions_two_windows.yaml"):
        result = sync.sync(CONNECTION)
    assert result.ok, result.error
    assert result.counts.streams["transactions"] == {"records": 6, "quarantined": 0}
    with store.transaction() as db:
        stored = [dict(r._mapping) for r in db.execute(select(store.table("conversion")))]
        assert load_state(db, CONNECTION) == {
            "transactions": {"window_end": "2025-04-10T12:00:00+00:00"}
        }
        # the commission-group parts in extra, queried with SQLite's JSON functions
        parts = db.execute(
            text(
                "SELECT c.order_ref, json_extract(p.value, '$.commissionGroupCode') AS code "
                "FROM conversion AS c, json_each(c.extra, '$.transactionParts') AS p "
                "WHERE c.status = 'approved' ORDER BY c.order_ref, p.key"
            )
        ).all()
    by_ref = {row["order_ref"]: row for row in stored}
    assert sorted(by_ref) == ["2098", "2103", "2107", "2110", "2119", "2124"]
    assert by_ref["2103"]["amount"] == Decimal("97.50") and by_ref["2103"]["status"] == "declined"
    assert by_ref["2107"]["occurred_at"].replace(tzinfo=UTC) == utc(2025, 3, 30, 1, 10)
    assert [tuple(row) for row in parts] == [
        ("2098", "DEFAULT"),
        ("2110", "DEFAULT"),
        ("2110", "SALE"),
        ("2110", "ACC"),
    ]
    with store.transaction() as db:
        items = db.execute(select(store.table("conversion_item"))).all()
    assert len(items) == 2


# --------------------------------------------------------------------------- the files


def test_the_awin_cassettes_hold_no_credential_and_say_what_they_follow() -> None:
    files = [path for path in cassette_files() if path.parent == AWIN_DIR]
    assert {path.name for path in files} == {
        "partners.yaml",
        "publisher_transactions_and_programmes.yaml",
        "transactions_401.yaml",
        "transactions_429.yaml",
        "transactions_two_windows.yaml",
    }
    for path in files:
        written = path.read_text(encoding="utf-8")
        assert scan_for_secrets(written, extra_values=[TOKEN]) == [], path.name
        header = written.split("\nversion:", 1)[0]
        assert header.startswith("# Written by hand from ../shared/reference/apis.md §2"), path.name
        assert "Connection:" in header and "No credentials in this file" in header, path.name
        for interaction in yaml.safe_load(written)["interactions"]:
            request = interaction["request"]
            assert request["uri"].startswith(f"{API}/"), path.name
            assert not {name.lower() for name in request["headers"]} & {"authorization"}
            body = interaction["response"]["body"]["string"]
            if body:
                json.loads(body)


@pytest.mark.parametrize(
    "name",
    [
        "transactions_two_windows.yaml",
        "transactions_429.yaml",
        "publisher_transactions_and_programmes.yaml",
    ],
)
def test_every_transaction_in_the_cassettes_has_the_full_documented_shape(name: str) -> None:
    transactions = cassette_transactions(name)
    assert transactions
    for transaction in transactions:
        where = f"{name} {transaction['id']}"
        assert set(transaction) == TRANSACTION_FIELDS, where
        for key in ("saleAmount", "commissionAmount"):  # amounts are JSON numbers
            assert type(transaction[key]["amount"]) is float, where
        for key in ("clickDate", "transactionDate", "validationDate"):
            value = transaction[key]
            if value is not None:  # no offset, whole minutes as in the public examples
                assert datetime.fromisoformat(value).tzinfo is None, where
                assert value.endswith(":00") and len(value) == 19, where
        parts = transaction["transactionParts"]
        assert sum(Decimal(str(p["amount"])) for p in parts) == Decimal(
            str(transaction["saleAmount"]["amount"])
        ), where
        assert sum(Decimal(str(p["commissionAmount"])) for p in parts) == Decimal(
            str(transaction["commissionAmount"]["amount"])
        ), where
        assert isinstance(transaction["paymentId"], int), where  # 0 when unpaid, never null


def _same_sale_both_sides() -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    advertiser = {t["id"]: t for t in cassette_transactions("transactions_two_windows.yaml")}
    for seen in cassette_transactions("publisher_transactions_and_programmes.yaml"):
        yield advertiser[seen["id"]], seen


def test_the_publisher_cassette_shows_the_advertisers_sales_apart_from_zone_and_hidden_fields() -> (
    None
):
    differ = {"clickDate", "transactionDate", "validationDate", "networkFee", "customParameters"}
    pairs = list(_same_sale_both_sides())
    assert len(pairs) == 2
    for advertiser, publisher in pairs:
        different = {k for k in TRANSACTION_FIELDS - differ if advertiser[k] != publisher[k]}
        assert different == set(), advertiser["id"]
