"""The Shopify connector replaying hand-written cassettes (tests/cassettes/shopify/*.yaml).

Each cassette follows the documented request and response shapes of
``../shared/reference/apis.md`` §1 (its first comment says which parts). The
connector runs with its real httpx transport, which vcrpy intercepts; replay
only, so a request that is not in the cassette fails the test. The cassettes
therefore pin the wire behaviour (first request with every filter, follow-up
pages exactly as the ``Link`` header gives them, a 429 repeated on the same
URL), and the records go through the real mapping and the canonical models
(and, once, through the real runner into SQLite) so each trap of apis.md
§1.12 is checked where it matters: in the stored rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy import select
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from connectors.shopify import ShopifyConnector, mapping_file
from connectors.shopify.converters import CONVERTERS
from connectors.shopify.settings import ShopifySettings
from hub.config import HubConfig, load_config
from hub.connector import Checkpoint, Message, Record
from hub.errors import AuthError
from hub.mapping import Mappings
from hub.plugins import Registered, Registry
from hub.runner import SyncRunner
from hub.schema import ENTITIES, make_id
from hub.state import load_state
from hub.store import Store, latest_per_id
from tests.connectors.cassette import (
    CASSETTES,
    Replay,
    cassette_files,
    scan_for_secrets,
    use_cassette,
)

SHOP = "nordlicht-outdoor"
TOKEN = "shpat_fake_cassette_token_0123"
API = f"https://{SHOP}.myshopify.com/admin/api/2026-10"
TENANT = "nordlicht"
CONNECTION = "shop"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAPPINGS = Mappings([mapping_file()], converters=CONVERTERS)

Row = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def settings(**overrides: Any) -> ShopifySettings:
    """The connection every cassette was written for (api_version pinned, not the default)."""
    raw = {
        "shop": SHOP,
        "access_token": TOKEN,
        "api_version": "2026-10",
        "start_date": "2025-03-01",
        **overrides,
    }
    return ShopifySettings.model_validate(raw)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the connector slept {seconds}s where nothing should make it wait")


def read(
    cassette: str,
    streams: Sequence[str] = ("orders",),
    state: Mapping[str, dict[str, Any]] | None = None,
    sleep: Callable[[float], None] = _no_sleep,
    **overrides: Any,
) -> tuple[list[Message], Replay]:
    """Every message of ``streams`` read through ``cassette`` (real httpx transport)."""
    with use_cassette(f"shopify/{cassette}") as replay:
        connector = ShopifyConnector(settings(**overrides), sleep=sleep)
        try:
            messages = list(connector.read(list(streams), state or {}))
        finally:
            connector.close()
    return messages, replay


def records(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, Record)]


def checkpoints(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.state for m in messages if isinstance(m, Checkpoint)]


def normalize(stream: str, messages: Sequence[Message]) -> dict[str, list[Row]]:
    """Every record mapped by mappings/shopify.yaml and validated as the runner does."""
    mapping = MAPPINGS.compile("shopify", stream)
    rows: dict[str, list[Row]] = {}
    for record in records(messages):
        for entity, row in mapping(record, tenant=TENANT, connection=CONNECTION):
            model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
            rows.setdefault(entity, []).append(model.model_dump())
    return rows


def by_ref(conversions: Sequence[Row]) -> dict[str, Row]:
    """Conversions by order number (``order_ref``); one per order (the latest version)."""
    latest = latest_per_id(conversions)
    return {str(row["order_ref"]): dict(row) for row in latest}


def items_of(rows: dict[str, list[Row]], conversion: Row) -> list[Row]:
    """The latest version of each line item of ``conversion``, in line order."""
    items = latest_per_id(rows.get("conversion_item", []))
    return sorted(
        (dict(i) for i in items if i["conversion_id"] == conversion["id"]),
        key=lambda item: int(item["line_ref"]),
    )


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# --------------------------------------------------------------------------- check()


def test_check_reads_shop_json_with_the_token_that_the_cassette_leaves_out() -> None:
    with use_cassette("shopify/shop.yaml") as replay:
        connector = ShopifyConnector(settings(), sleep=_no_sleep)
        try:
            connector.check()
        finally:
            connector.close()
    assert replay.urls == [f"{API}/shop.json"]
    sent = replay.sent[0]
    assert sent.headers["X-Shopify-Access-Token"] == TOKEN  # the connector authenticates...
    stored = replay.cassette.filter_request(sent)  # ...and what vcrpy would record lacks it
    assert "X-Shopify-Access-Token" not in stored.headers
    assert TOKEN not in json.dumps(dict(stored.headers))


def test_check_with_a_refused_token_raises_auth_error_naming_the_fix_not_the_token() -> None:
    with use_cassette("shopify/shop_401.yaml") as replay:
        connector = ShopifyConnector(settings(), sleep=_no_sleep)
        try:
            with pytest.raises(AuthError) as caught:
                connector.check()
        finally:
            connector.close()
    assert replay.urls == [f"{API}/shop.json"]  # a 401 is not retried
    error = caught.value
    assert "HTTP 401" in error.message
    assert "Invalid API key or access token" in error.message
    assert "f29f4adf-0ffb-49cf-a395-835db6e42ae0" in error.message  # X-Request-Id for support
    assert error.hint is not None
    assert "access_token" in error.hint and "shpat_" in error.hint
    assert "installed" in error.hint
    assert TOKEN not in str(error) and TOKEN not in repr(error.args)


def test_a_token_without_the_orders_scope_fails_the_read_naming_the_scopes() -> None:
    with pytest.raises(AuthError) as caught:
        read("orders_403.yaml")
    error = caught.value
    assert "HTTP 403" in error.message and "read_orders" in error.message
    assert error.hint is not None
    assert "read_orders" in error.hint and "read_all_orders" in error.hint
    assert TOKEN not in str(error)


def test_a_request_the_cassette_does_not_hold_fails_instead_of_reaching_the_network() -> None:
    with use_cassette("shopify/shop.yaml", allow_unplayed=True) as replay:
        connector = ShopifyConnector(settings(api_version="2026-07"), sleep=_no_sleep)
        try:
            with pytest.raises(CannotOverwriteExistingCassetteException):
                connector.check()
        finally:
            connector.close()
    assert replay.sent == []  # nothing was played for the unknown request


# --------------------------------------------------------------------------- one page


@pytest.fixture(scope="module")
def single_page() -> tuple[list[Message], Replay]:
    return read("orders_single_page.yaml")


def test_a_single_page_without_link_header_is_one_request_with_every_filter(
    single_page: tuple[list[Message], Replay],
) -> None:
    messages, replay = single_page
    assert replay.urls == replay.recorded_urls  # exactly as written, in order
    assert query(replay.urls[0]) == {
        "status": "any",  # the API default (open) would hide the cancelled order
        "updated_at_min": "2025-03-01T00:00:00+00:00",
        "order": "updated_at asc",
        "limit": "250",
    }
    assert [r["name"] for r in records(messages)] == ["#1107", "#1108", "#1109"]
    assert checkpoints(messages) == [{"updated_at": "2025-03-07T11:11:13+01:00"}]


def test_a_cancelled_order_is_cancelled_and_fully_taken_back(
    single_page: tuple[list[Message], Replay],
) -> None:
    rows = normalize("orders", single_page[0])
    order = by_ref(rows["conversion"])["1107"]
    assert order["status"] == "cancelled"
    assert order["amount"] == Decimal("59.90") and order["currency"] == "EUR"
    assert order["refunded_amount"] == Decimal("59.90")  # current_total_price 0.00
    [item] = items_of(rows, order)
    assert item["refunded_quantity"] == 1  # the restock_type "cancel" refund line counts
    assert order["click_ref"] == "28374_1741178889_c4c4c4c4d5d5d5d5e6e6e6e6f7f7f7f7"


def test_a_test_order_with_two_discount_codes(
    single_page: tuple[list[Message], Replay],
) -> None:
    rows = normalize("orders", single_page[0])
    conversions = by_ref(rows["conversion"])
    order = conversions["1108"]
    assert order["is_test"] is True
    assert order["status"] == "pending"
    assert order["voucher_codes"] == ["FRUEHLING15", "VERSANDFREI"]
    assert order["amount"] == Decimal("76.41")
    assert order["refunded_amount"] == Decimal("0.00")
    assert order["click_ref"] == "cj-100108-qa"
    [item] = items_of(rows, order)
    assert item["discount"] == Decimal("13.49")  # the code's line allocation, not the shipping
    assert item["amount"] == Decimal("76.41")
    assert [c["is_test"] for c in conversions.values()].count(True) == 1


def test_a_pos_order_without_customer_with_null_empty_and_custom_item_skus(
    single_page: tuple[list[Message], Replay],
) -> None:
    rows = normalize("orders", single_page[0])
    order = by_ref(rows["conversion"])["1109"]
    assert order["customer_ref"] is None  # customer null and email "": nothing to hash
    assert order["customer_type"] == "unknown"
    assert order["device"] == "pos"  # client_details null on POS
    assert order["country"] is None and order["click_ref"] is None
    assert order["voucher_codes"] == []
    assert order["amount"] == Decimal("47.70")
    items = items_of(rows, order)
    assert [(i["title"], i["sku"]) for i in items] == [
        ("登山用ソックス 🧦", None),  # sku null
        ("Карабин «Север»", None),  # sku ""
        ("Gravur-Service ✍️", None),  # custom item: product_id null
    ]
    assert [i["quantity"] for i in items] == [3, 1, 1]
    assert [i["amount"] for i in items] == [Decimal("29.70"), Decimal("4.50"), Decimal("13.50")]
    assert sum(i["amount"] for i in items) == order["amount"]
    custom = items[2]
    assert custom["extra"]["product_id"] is None and custom["extra"]["product_exists"] is False
    assert custom["extra"]["properties"] == [{"name": "Text", "value": "Für Oma ❤️"}]
    assert order["extra"]["note"] == "Доставка после 18:00 🚚"


# --------------------------------------------------------------------------- three pages


@pytest.fixture(scope="module")
def three_pages() -> tuple[list[Message], Replay]:
    return read("orders_three_pages.yaml", page_size=2)


def test_pages_follow_the_link_header_exactly(three_pages: tuple[list[Message], Replay]) -> None:
    messages, replay = three_pages
    assert replay.urls == replay.recorded_urls
    first, *follow_ups = replay.urls
    assert query(first) == {
        "status": "any",
        "updated_at_min": "2025-03-01T00:00:00+00:00",
        "order": "updated_at asc",
        "limit": "2",
    }
    assert len(follow_ups) == 2
    for url in follow_ups:  # the cursor carries the filters; nothing else is re-sent
        assert set(query(url)) == {"limit", "page_info"}
        assert url.startswith(f"{API}/orders.json?")
    # the middle page's Link has previous AND next: only next was followed
    assert 'rel="previous"' in _link_header(replay, 1) and 'rel="next"' in _link_header(replay, 1)
    assert checkpoints(messages) == [
        {"updated_at": "2025-03-04T18:02:11+01:00"},
        {"updated_at": "2025-03-08T21:14:52+01:00"},
        {"updated_at": "2025-03-12T10:45:00+01:00"},
    ]


def _link_header(replay: Replay, index: int) -> str:
    document = yaml.safe_load(replay.path.read_text(encoding="utf-8"))
    return str(document["interactions"][index]["response"]["headers"]["Link"][0])


def test_an_order_seen_on_two_pages_is_one_conversion_and_the_later_version_wins(
    three_pages: tuple[list[Message], Replay],
) -> None:
    raw = records(three_pages[0])
    assert [r["name"] for r in raw] == ["#1101", "#1102", "#1103", "#1104", "#1105", "#1102"]
    rows = normalize("orders", three_pages[0])
    versions = [r for r in rows["conversion"] if r["order_ref"] == "1102"]
    assert len(versions) == 2 and versions[0]["id"] == versions[1]["id"]
    order = by_ref(rows["conversion"])["1102"]
    assert len(by_ref(rows["conversion"])) == 5
    assert order["source_updated_at"] == datetime(2025, 3, 12, 9, 45, tzinfo=UTC)
    assert order["extra"]["financial_status"] == "partially_refunded"
    # Shop money: total_price - current_total_price. NOT the refund transaction,
    # which is in the presentment currency (33.56 GBP).
    assert order["refunded_amount"] == Decimal("39.95") and order["currency"] == "EUR"
    assert order["amount"] == Decimal("104.70")
    assert (order["presentment_amount"], order["presentment_currency"]) == (
        Decimal("87.96"),
        "GBP",
    )
    shirt, bottle = items_of(rows, order)
    assert (shirt["sku"], shirt["quantity"], shirt["refunded_quantity"]) == ("NL-MER-SHIRT-M", 2, 1)
    assert (bottle["sku"], bottle["refunded_quantity"]) == ("NL-FJORD-075", 0)
    assert order["customer_type"] == "new"  # the customer was created by this checkout
    assert order["device"] == "mobile"


def test_shop_and_presentment_money_of_multi_currency_orders(
    three_pages: tuple[list[Message], Replay],
) -> None:
    rows = normalize("orders", three_pages[0])
    conversions = by_ref(rows["conversion"])
    money = {
        ref: (c["amount"], c["currency"], c["presentment_amount"], c["presentment_currency"])
        for ref, c in conversions.items()
    }
    assert money == {
        "1101": (Decimal("234.00"), "EUR", Decimal("222.30"), "CHF"),
        "1102": (Decimal("104.70"), "EUR", Decimal("87.96"), "GBP"),
        "1103": (Decimal("49.80"), "EUR", Decimal("54.29"), "USD"),
        "1104": (Decimal("189.00"), "EUR", Decimal("2079.00"), "SEK"),
        "1105": (Decimal("29.85"), "EUR", Decimal("29.85"), "EUR"),
    }
    chf = conversions["1101"]
    assert chf["voucher_codes"] == ["NORDLICHT10"]
    [jacket] = items_of(rows, chf)
    # line items are in shop money too (price_set's presentment money stays in extra)
    assert (jacket["unit_price"], jacket["discount"], jacket["amount"]) == (
        Decimal("249.00"),
        Decimal("24.90"),
        Decimal("224.10"),
    )
    assert jacket["currency"] == "EUR"
    assert jacket["extra"]["price_set"]["presentment_money"] == {
        "amount": "236.55",
        "currency_code": "CHF",
    }


def test_click_refs_from_note_attributes_first_then_landing_site(
    three_pages: tuple[list[Message], Replay],
) -> None:
    conversions = by_ref(normalize("orders", three_pages[0])["conversion"])
    # in both places: the cart attribute wins over the (older) landing page parameter
    assert conversions["1101"]["click_ref"] == "28374_1740989500_8d3f1c2b7a6e5d4c3b2a1f0e9d8c7b6a"
    assert conversions["1101"]["channel_source"] == "awin"
    # only in landing_site (an Impact click id)
    assert conversions["1102"]["click_ref"] == "IR-5521-7c1e9a"
    assert conversions["1102"]["channel_source"] == "impact"
    # none at all (a newsletter visit)
    assert conversions["1103"]["click_ref"] is None
    assert conversions["1103"]["channel_medium"] == "email"
    # an attribute next to other cart attributes
    assert conversions["1104"]["click_ref"] == "28374_1741468400_51c0ffee51c0ffee51c0ffee51c0ffee"
    # a blank attribute does not count: the landing page parameter is used
    assert conversions["1105"]["click_ref"] == "28374_1741593300_a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    assert [conversions[ref]["country"] for ref in sorted(conversions)] == [
        "CH",
        "GB",
        "US",
        "SE",
        "AT",  # billing_address null: the shipping country
    ]


def test_unicode_and_emoji_survive_into_the_rows(
    three_pages: tuple[list[Message], Replay],
) -> None:
    rows = normalize("orders", three_pages[0])
    conversions = by_ref(rows["conversion"])
    sek = conversions["1104"]
    assert sek["extra"]["note"] == "Tack så mycket! 🙏 ありがとう"
    assert {"name": "Lieferhinweis", "value": "Bitte beim Nachbarn abgeben 📦"} in sek["extra"][
        "note_attributes"
    ]
    [sleeping_bag] = items_of(rows, sek)
    assert sleeping_bag["title"] == "Schlafsack Midnattsol ❄️ - Lang"
    assert sleeping_bag["extra"]["properties"] == [{"name": "Stickerei", "value": "Åsa ☀️"}]
    assert {"name": "Geschenknachricht", "value": "Frohe Ostern! 🐣❄️"} in conversions["1101"][
        "extra"
    ]["note_attributes"]
    refund = conversions["1102"]["extra"]["refunds"][0]
    assert refund["note"] == "Too small \u2013 exchange requested"  # an en dash


def test_no_personal_data_from_the_cassettes_reaches_the_records(
    three_pages: tuple[list[Message], Replay], single_page: tuple[list[Message], Replay]
) -> None:
    text = json.dumps(
        records(three_pages[0]) + records(single_page[0]), ensure_ascii=False, default=str
    )
    for value in (
        "mara.keller@example.ch",
        "Keller",
        "oliver.hughes@example.co.uk",
        "12 Camden Road",
        "198.51.100.23",
        "Lindqvist",
        "Storgatan",
        "petra.vogel@example.de",
        "authenticate?key",
        "payer_email",
    ):
        assert value not in text, value


# --------------------------------------------------------------------------- 429


def test_a_429_in_the_middle_of_paging_waits_retry_after_and_repeats_the_same_url() -> None:
    sleeps: list[float] = []
    messages, replay = read("orders_429.yaml", sleep=sleeps.append, page_size=2)
    first, second, third = replay.urls
    assert [first, second, third] == replay.recorded_urls
    assert third == second  # the very same URL, page_info and all
    assert set(query(second)) == {"limit", "page_info"}
    assert sleeps[0] == 2.0  # Retry-After: 2.0, not the exponential backoff
    # The 429 reported a full bucket (40/40): before repeating, the pacer also waits
    # until the bucket is below its headroom again (at 2 requests/s).
    assert len(sleeps) == 2 and 0 < sleeps[1] <= 2.5
    assert [r["name"] for r in records(messages)] == ["#1110", "#1111", "#1112"]
    assert checkpoints(messages) == [
        {"updated_at": "2025-03-15T13:40:00+01:00"},
        {"updated_at": "2025-03-16T09:05:00+01:00"},
    ]
    conversions = by_ref(normalize("orders", messages)["conversion"])
    assert sorted(conversions) == ["1110", "1111", "1112"]
    assert conversions["1112"]["click_ref"] == "IR-5521-ee01ff"


# --------------------------------------------------------------------------- products


def test_products_ask_the_shop_currency_and_map_each_variant_to_a_sku() -> None:
    messages, replay = read("products_single_page.yaml", streams=("products",))
    assert replay.urls == replay.recorded_urls
    assert replay.urls[0] == f"{API}/shop.json"
    assert query(replay.urls[1]) == {
        "updated_at_min": "2025-03-01T00:00:00+00:00",
        "order": "updated_at asc",
        "limit": "250",
    }
    skus = normalize("products", messages)["sku"]
    assert [(s["variant_ref"], s["sku"], s["title"], s["price"], s["currency"]) for s in skus] == [
        ("47701200000010", "NL-DJ-POL-S", "Daunenjacke Polarlicht - S", Decimal("249.00"), "EUR"),
        ("47701200000011", "NL-DJ-POL-M", "Daunenjacke Polarlicht - M", Decimal("249.00"), "EUR"),
        ("47701200000012", None, "Daunenjacke Polarlicht - L", Decimal("259.00"), "EUR"),
        ("47701200000091", None, "登山用ソックス 🧦", Decimal("9.90"), "EUR"),
    ]
    assert [s["active"] for s in skus] == [True, True, True, False]
    assert skus[0]["url"] == f"https://{SHOP}.myshopify.com/products/daunenjacke-polarlicht"
    assert skus[3]["url"] is None and skus[3]["brand"] is None and skus[3]["gtin"] is None
    assert skus[0]["gtin"] == "4260123450011"
    assert checkpoints(messages) == [{"updated_at": "2025-03-05T08:00:00+01:00"}]


# --------------------------------------------------------------------------- the runner


class _ReplayedShopify(ShopifyConnector):
    """The real connector; only ``sleep`` is injected (the runner builds connectors itself)."""

    def __init__(self, config: BaseModel, **kwargs: Any) -> None:
        super().__init__(config, sleep=_no_sleep, **kwargs)


@pytest.fixture
def shop_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubConfig:
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    document = {
        "database": f"sqlite:///{tmp_path / 'hub.db'}",
        "tenants": {TENANT: {"name": "Nordlicht Outdoor"}},
        "connections": {
            CONNECTION: {
                "connector": "shopify",
                "tenant": TENANT,
                "streams": ["orders"],
                "config": {
                    "shop": SHOP,
                    "access_token": "${SHOPIFY_TOKEN}",
                    "api_version": "2026-10",
                    "start_date": "2025-03-01",
                    "page_size": 2,
                },
            }
        },
    }
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(tmp_path / "hub.yaml")


@pytest.fixture
def runner(shop_hub: HubConfig) -> Iterator[tuple[SyncRunner, Store]]:
    store = Store(shop_hub.database_url())
    store.create_all()
    registry = Registry(
        connectors={"shopify": Registered("shopify", _ReplayedShopify, "shopify", "tests", "0")}
    )
    yield SyncRunner(shop_hub, store, registry=registry, mappings=MAPPINGS), store
    store.dispose()


def _stored(store: Store, entity: str) -> list[Row]:
    with store.transaction() as db:
        return [dict(row._mapping) for row in db.execute(select(store.table(entity)))]


def test_a_sync_stores_the_twice_seen_order_once_and_the_next_sync_resumes_from_the_cursor(
    runner: tuple[SyncRunner, Store],
) -> None:
    sync, store = runner
    with use_cassette("shopify/orders_three_pages.yaml"):
        result = sync.sync(CONNECTION)
    assert result.ok, result.error
    assert result.counts.streams["orders"] == {"records": 6, "quarantined": 0}

    conversions = {row["order_ref"]: row for row in _stored(store, "conversion")}
    assert sorted(conversions) == ["1101", "1102", "1103", "1104", "1105"]
    twice = conversions["1102"]
    assert twice["id"] == make_id(TENANT, "shopify", "conversion", "5801200001102")
    assert twice["refunded_amount"] == Decimal("39.95")  # the page-3 version, not page 1's
    assert twice["source_updated_at"] == datetime(2025, 3, 12, 9, 45, tzinfo=UTC)
    assert twice["extra"]["financial_status"] == "partially_refunded"
    assert sum(row["amount"] for row in conversions.values()) == Decimal("607.35")
    items = _stored(store, "conversion_item")
    assert len(items) == 6  # 1 + 2 + 1 + 1 + 1 lines; #1102's two lines stored once each
    shirt = next(i for i in items if i["sku"] == "NL-MER-SHIRT-M")
    assert (shirt["quantity"], shirt["refunded_quantity"]) == (2, 1)
    with store.transaction() as db:
        assert load_state(db, CONNECTION) == {"orders": {"updated_at": "2025-03-12T10:45:00+01:00"}}

    # The next run asks from the saved cursor minus the 10-minute lookback (pinned by
    # the cassette's URL), re-reads #1102 unchanged and adds #1106.
    with use_cassette("shopify/orders_incremental.yaml") as replay:
        again = sync.sync(CONNECTION)
    assert again.ok, again.error
    assert query(replay.urls[0])["updated_at_min"] == "2025-03-12T10:35:00+01:00"
    conversions = {row["order_ref"]: row for row in _stored(store, "conversion")}
    assert sorted(conversions) == ["1101", "1102", "1103", "1104", "1105", "1106"]
    assert conversions["1102"]["refunded_amount"] == Decimal("39.95")
    assert conversions["1106"]["voucher_codes"] == ["NORDLICHT10"]
    assert len(_stored(store, "conversion_item")) == 7
    with store.transaction() as db:
        assert load_state(db, CONNECTION) == {"orders": {"updated_at": "2025-03-13T15:02:00+01:00"}}


# --------------------------------------------------------------------------- the files


def test_every_cassette_is_free_of_credentials() -> None:
    files = cassette_files()
    assert any(path.parent.name == "shopify" for path in files)
    for path in files:
        findings = scan_for_secrets(path.read_text(encoding="utf-8"), extra_values=[TOKEN])
        assert findings == [], f"{path.relative_to(CASSETTES)}: {findings}"


def test_every_cassette_names_the_reference_section_it_follows() -> None:
    for path in cassette_files():
        text = path.read_text(encoding="utf-8")
        header = text.split("\nversion:", 1)[0]
        assert header.startswith("#"), f"{path.name} does not start with a comment"
        assert "apis.md §" in header, f"{path.name}: name the section of apis.md it follows"


def test_shopify_cassettes_carry_the_documented_response_headers() -> None:
    for path in sorted((CASSETTES / "shopify").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for number, interaction in enumerate(document["interactions"], start=1):
            where = f"{path.name} interaction {number}"
            assert "X-Shopify-Access-Token" not in interaction["request"]["headers"], where
            headers = interaction["response"]["headers"]
            assert headers["Content-Type"] == ["application/json; charset=utf-8"], where
            assert headers["X-Shopify-API-Version"] == ["2026-10"], where
            assert len(headers["X-Request-Id"]) == 1, where
            if interaction["response"]["status"]["code"] != 401:
                used, size = headers["X-Shopify-Shop-Api-Call-Limit"][0].split("/")
                assert 0 < int(used) <= int(size) == 40, where
            json.loads(interaction["response"]["body"]["string"])  # every body is valid JSON


def test_the_shared_replayer_would_record_no_credential_of_any_vendor() -> None:
    request = Request(
        "GET",
        "https://api.awin.com/publishers/1/transactions/?accessToken=2b7f0c1e&startDate=x"
        "&access_token=ya29.abc&key=AIza123",
        None,
        {
            "Authorization": "Bearer 2b7f0c1e",
            "X-Shopify-Access-Token": TOKEN,
            "Accept": "application/json",
        },
    )
    with use_cassette("shopify/shop.yaml", allow_unplayed=True) as replay:
        stored = replay.cassette.filter_request(request)
    assert dict(stored.headers) == {"Accept": "application/json"}
    assert query(stored.uri) == {"startDate": "x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Shopify-Access-Token: [shpat_0123456789abcdef0123456789abcdef]", "Shopify access"),
        ("Authorization: [Bearer 8f3e2a10-aaaa-bbbb-cccc-0123456789ab]", "bearer token"),
        ("token: ya29.a0AfB_byC-1234567890abcdef", "Google OAuth"),
        ("k: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "JSON web token"),
        ("the configured shpat_fake_cassette_token_0123", "configured test token"),
    ],
)
def test_the_secret_scan_finds_token_shaped_text(text: str, expected: str) -> None:
    findings = scan_for_secrets(text, extra_values=[TOKEN])
    assert any(expected in finding for finding in findings), findings


def test_the_secret_scan_finds_credential_headers_and_parameters_but_allows_placeholders() -> None:
    def cassette(request_headers: dict[str, list[str]], uri: str) -> str:
        interaction = {
            "request": {"method": "GET", "uri": uri, "body": None, "headers": request_headers},
            "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {}},
        }
        return yaml.safe_dump({"version": 1, "interactions": [interaction]})

    leaked = cassette(
        {"X-Api-Key": ["c0ffee-not-a-placeholder"]},
        "https://api.awin.com/publishers/1/transactions/?accessToken=2b7f0c1e-5d4a&x=1",
    )
    findings = scan_for_secrets(leaked)
    assert any("request header X-Api-Key" in f for f in findings), findings
    assert any("query parameter accessToken" in f for f in findings), findings
    clean = cassette(
        {"X-Shopify-Access-Token": ["FILTERED"], "Accept": ["application/json"]},
        "https://api.awin.com/publishers/1/transactions/?accessToken=REDACTED&x=1",
    )
    assert scan_for_secrets(clean) == []
