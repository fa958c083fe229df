"""The Shopify streams on httpx.MockTransport: requests, paging, cursors, errors, personal data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import connectors.shopify
from connectors.shopify import ShopifyConnector, mapping_file
from connectors.shopify.converters import CONVERTERS
from connectors.shopify.settings import ShopifySettings
from connectors.shopify.streams import (
    CursorTracker,
    _kept,
    _order_email,
    _without,
    find_click_ref,
    prepare_order,
    refunded_quantities,
    start_instant,
    strip_personal_data,
)
from hub import plugins
from hub.connector import Checkpoint, Record
from hub.errors import AuthError, FatalConnectorError, RecordError, RetryBudgetExceededError
from hub.http import RetryPolicy
from hub.mapping import load_mappings
from hub.mapping.converters import hash_value
from hub.runner import normalize
from tests.connectors.shopify import samples
from tests.connectors.shopify.fake_shop import FakeShop, instant
from tests.connectors.shopify.samples import SHOP, TOKEN, fresh


def settings(**overrides: Any) -> ShopifySettings:
    raw = {"shop": SHOP, "access_token": TOKEN, "start_date": "2025-01-01", **overrides}
    return ShopifySettings.model_validate(raw)


def order(number: int, updated_at: str, **fields: Any) -> dict[str, Any]:
    """A small order: enough for paging and cursor tests."""
    return {
        "id": 6123400000000 + number,
        "order_number": 1000 + number,
        "name": f"#{1000 + number}",
        "created_at": updated_at,
        "updated_at": updated_at,
        "currency": "EUR",
        "total_price": "10.00",
        "line_items": [],
        **fields,
    }


def read(
    shop: FakeShop,
    streams: list[str],
    state: dict[str, Any] | None = None,
    sleeps: list[float] | None = None,
    **config: Any,
) -> list[Any]:
    connector = ShopifyConnector(
        settings(**config),
        transport=shop.transport(),
        sleep=(sleeps.append if sleeps is not None else _no_sleep),
    )
    try:
        return list(connector.read(streams, state or {}))
    finally:
        connector.close()


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the connector slept {seconds}s; no test here should wait")


def records(messages: list[Any]) -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, Record)]


def checkpoints(messages: list[Any]) -> list[dict[str, Any]]:
    return [m.state for m in messages if isinstance(m, Checkpoint)]


FIVE = [
    order(1, "2025-03-01T10:00:00+01:00"),
    order(2, "2025-03-02T10:00:00+01:00"),
    order(3, "2025-03-03T10:00:00+01:00"),
    order(4, "2025-03-04T10:00:00+01:00"),
    order(5, "2025-03-05T10:00:00+01:00"),
]


# --------------------------------------------------------------------------- requests


def test_the_first_request_asks_for_every_status_ordered_by_updated_at() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    read(shop, ["orders"])
    first = shop.requests[0]
    assert first.url.path == "/admin/api/2026-10/orders.json"
    assert first.url.host == f"{SHOP}.myshopify.com"
    params = dict(first.url.params)
    assert params == {
        "status": "any",
        "updated_at_min": "2025-01-01T00:00:00+00:00",
        "order": "updated_at asc",
        "limit": "250",
    }
    assert "%2B00%3A00" in str(first.url)  # the + of the offset is encoded, not a space
    assert first.headers["X-Shopify-Access-Token"] == TOKEN


def test_closed_and_cancelled_orders_are_read_too() -> None:
    shop = FakeShop(orders=[fresh(samples.CANCELLED), order(1, "2025-03-01T10:00:00Z")])
    ids = [r["id"] for r in records(read(shop, ["orders"]))]
    assert samples.CANCELLED["id"] in ids  # the API default (status=open) would hide it


def test_an_incremental_sync_starts_at_the_saved_cursor_minus_the_lookback() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    state = {"orders": {"updated_at": "2025-03-04T10:00:00+01:00"}}
    messages = read(shop, ["orders"], state, lookback_minutes=30)
    sent = dict(shop.requests[0].url.params)["updated_at_min"]
    assert instant(sent) == instant("2025-03-04T09:30:00+01:00")
    assert [r["order_number"] for r in records(messages)] == [1004, 1005]  # inclusive
    assert checkpoints(messages)[-1] == {"updated_at": "2025-03-05T10:00:00+01:00"}


def test_follow_up_pages_request_the_link_url_exactly_and_nothing_else() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    messages = read(shop, ["orders"], page_size=2)
    assert [r["order_number"] for r in records(messages)] == [1001, 1002, 1003, 1004, 1005]
    assert len(shop.requests) == 3
    for previous, request in zip(shop.requests, shop.requests[1:], strict=False):
        link = httpx.Response(200, headers=_link_headers(shop, previous)).headers["link"]
        next_url = next(part for part in link.split(", ") if 'rel="next"' in part)
        assert str(request.url) == next_url[1 : next_url.index(">")]
        assert set(request.url.params) == {"limit", "page_info"}


def _link_headers(shop: FakeShop, request: httpx.Request) -> dict[str, str]:
    """The Link header the fake gave for ``request`` (asked again, without side effects)."""
    replay = FakeShop(orders=shop.data["orders"])
    return dict(replay.handle(request).headers)


def test_a_middle_page_with_previous_and_next_links_follows_next() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    read(shop, ["orders"], page_size=2)
    middle = FakeShop(orders=shop.data["orders"]).handle(shop.requests[1])
    link = middle.headers["link"]
    assert 'rel="previous"' in link and 'rel="next"' in link
    assert link.index('rel="previous"') < link.index('rel="next"')
    previous_url = link.split(", ")[0][1:].split(">")[0]
    assert all(str(r.url) != previous_url for r in shop.requests)


# --------------------------------------------------------------------------- cursors


def test_a_checkpoint_after_every_page_holds_the_newest_updated_at_as_given() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    messages = read(shop, ["orders"], page_size=2)
    assert checkpoints(messages) == [
        {"updated_at": "2025-03-02T10:00:00+01:00"},
        {"updated_at": "2025-03-04T10:00:00+01:00"},
        {"updated_at": "2025-03-05T10:00:00+01:00"},
    ]
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["Record", "Record", "Checkpoint"] * 2 + ["Record", "Checkpoint"]


def test_an_order_updated_while_paging_is_yielded_again_on_a_later_page() -> None:
    shop = FakeShop(orders=fresh(FIVE))

    def update_first_order(request: httpx.Request) -> None:
        if len(shop.requests) == 2:  # after page 1 was served
            shop.data["orders"][0]["updated_at"] = "2025-03-06T08:00:00+01:00"
            shop.data["orders"][0]["financial_status"] = "refunded"

    shop.before = update_first_order
    messages = read(shop, ["orders"], page_size=2)
    seen = [(r["order_number"], r["updated_at"]) for r in records(messages)]
    assert seen == [
        (1001, "2025-03-01T10:00:00+01:00"),
        (1002, "2025-03-02T10:00:00+01:00"),
        (1003, "2025-03-03T10:00:00+01:00"),
        (1004, "2025-03-04T10:00:00+01:00"),
        (1005, "2025-03-05T10:00:00+01:00"),
        (1001, "2025-03-06T08:00:00+01:00"),
    ]
    assert checkpoints(messages)[-1] == {"updated_at": "2025-03-06T08:00:00+01:00"}


def test_cursors_compare_as_instants_not_as_text() -> None:
    # 23:30 at -05:00 is 04:30 UTC on the 15th: later than 02:00 at +01:00 (01:00 UTC),
    # although it sorts first as text.
    late, early = "2025-03-14T23:30:00-05:00", "2025-03-15T02:00:00+01:00"
    shop = FakeShop(orders=[order(1, late), order(2, early)])
    messages = read(shop, ["orders"], page_size=1)
    assert [r["updated_at"] for r in records(messages)] == [early, late]
    assert checkpoints(messages) == [{"updated_at": early}, {"updated_at": late}]
    assert late < early  # the trap: as text the older one would win


def test_records_re_read_by_the_lookback_never_move_the_cursor_back() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    saved = "2025-03-05T10:05:00+01:00"
    messages = read(shop, ["orders"], {"orders": {"updated_at": saved}}, lookback_minutes=60 * 24)
    assert [r["order_number"] for r in records(messages)] == [1005]
    assert checkpoints(messages) == [{"updated_at": saved}]


def test_an_empty_first_sync_checkpoints_an_empty_state() -> None:
    messages = read(FakeShop(), ["orders"])
    assert messages == [Checkpoint("orders", {})]


def test_results_not_ordered_by_updated_at_hold_the_cursor_until_the_stream_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unordered = [fresh(FIVE[4]), fresh(FIVE[0]), fresh(FIVE[2]), fresh(FIVE[1])]
    shop = FakeShop(orders=unordered, sort=False)
    saved = {"orders": {"updated_at": "2025-02-01T00:00:00Z"}}
    with caplog.at_level(logging.WARNING, logger="connectors.shopify"):
        messages = read(shop, ["orders"], saved, page_size=2, lookback_minutes=0)
    # Page 1 is 1005 then 1001: out of order, so the saved cursor stays until the end.
    assert checkpoints(messages) == [
        {"updated_at": "2025-02-01T00:00:00Z"},
        {"updated_at": "2025-03-05T10:00:00+01:00"},
    ]
    assert "not ordered by updated_at" in caplog.text


def test_the_tracker_ignores_unreadable_timestamps(caplog: pytest.LogCaptureFixture) -> None:
    tracker = CursorTracker("orders", None)
    with caplog.at_level(logging.WARNING, logger="connectors.shopify"):
        tracker.see("yesterday")
        tracker.see(None)
    tracker.see("2025-03-01T00:00:00Z")
    assert tracker.state(last_page=False) == {"updated_at": "2025-03-01T00:00:00Z"}
    assert "unreadable updated_at 'yesterday'" in caplog.text


def test_an_unreadable_saved_cursor_fails_with_a_reset_hint() -> None:
    with pytest.raises(FatalConnectorError) as failure:
        read(FakeShop(), ["orders"], {"orders": {"updated_at": "last tuesday"}})
    assert "last tuesday" in failure.value.message
    assert "hub state reset" in (failure.value.hint or "")


# --------------------------------------------------------------------------- headers, errors


def test_a_different_served_api_version_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    shop = FakeShop(orders=fresh(FIVE), served_version="2025-01")
    with caplog.at_level(logging.WARNING, logger="connectors.shopify"):
        read(shop, ["orders"], page_size=2)
    warnings = [r for r in caplog.records if "served API version" in r.getMessage()]
    assert len(warnings) == 1
    assert "2025-01" in warnings[0].getMessage() and "2026-10" in warnings[0].getMessage()


def test_the_requested_api_version_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.shopify"):
        read(FakeShop(orders=fresh(FIVE)), ["orders"])
    assert "served API version" not in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "error", "hint_words"),
    [
        (
            401,
            {"errors": "[API] Invalid API key or access token (unrecognized login or wrong pw)"},
            AuthError,
            ["access_token", "shpat_"],
        ),
        (
            403,
            {"errors": "This action requires merchant approval for read_orders scope."},
            AuthError,
            ["read_orders", "read_all_orders"],
        ),
        (404, {"errors": "Not Found"}, FatalConnectorError, ["shop", "api_version"]),
    ],
)
def test_auth_and_not_found_errors_say_what_to_fix_without_the_token(
    status: int, body: Any, error: type[Exception], hint_words: list[str]
) -> None:
    shop = FakeShop(orders=fresh(FIVE))
    shop.failures[1] = httpx.Response(status, json=body, headers={"X-Request-Id": "abc-123"})
    with pytest.raises(error) as failure:
        read(shop, ["orders"])
    text = str(failure.value)
    assert f"HTTP {status}" in text
    assert (body["errors"] if status != 403 else "merchant approval") in text
    assert "abc-123" in text  # Shopify support asks for the request id
    for word in hint_words:
        assert word in (failure.value.hint or "")  # type: ignore[attr-defined]
    assert TOKEN not in text
    assert len(shop.requests) == 1  # failed at once, no retries


def test_a_wrong_token_fails_check_with_shopifys_message() -> None:
    shop = FakeShop(token="shpat_the_real_one_999999")
    connector = ShopifyConnector(settings(), transport=shop.transport(), sleep=_no_sleep)
    with pytest.raises(AuthError) as failure:
        connector.check()
    assert "Invalid API key or access token" in failure.value.message
    assert TOKEN not in str(failure.value)


def test_a_429_waits_retry_after_and_repeats_the_same_url() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    shop.failures[2] = httpx.Response(
        429,
        json={"errors": "Exceeded 2 calls per second for api client. Reduce request rates."},
        headers={"Retry-After": "2.0", "X-Shopify-Shop-Api-Call-Limit": "40/40"},
    )
    sleeps: list[float] = []
    messages = read(shop, ["orders"], sleeps=sleeps, page_size=2)
    assert [r["order_number"] for r in records(messages)] == [1001, 1002, 1003, 1004, 1005]
    assert str(shop.requests[1].url) == str(shop.requests[2].url)
    assert "page_info" in str(shop.requests[2].url)
    assert 2.0 in sleeps
    assert len(shop.requests) == 4


def test_a_422_too_many_requests_is_retried_like_a_429() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    shop.failures[1] = httpx.Response(
        422, json={"errors": "Too many requests"}, headers={"Retry-After": "1.5"}
    )
    sleeps: list[float] = []
    messages = read(shop, ["orders"], sleeps=sleeps)
    assert len(records(messages)) == 5
    assert str(shop.requests[0].url) == str(shop.requests[1].url)
    assert 1.5 in sleeps


def test_server_errors_are_retried_within_the_budget_then_fail() -> None:
    shop = FakeShop(orders=fresh(FIVE))
    for attempt in range(1, 10):
        shop.failures[attempt] = httpx.Response(503, text="Service Unavailable")
    connector = ShopifyConnector(settings(), transport=shop.transport(), sleep=lambda s: None)
    connector.client.http.retry = RetryPolicy(max_attempts=3)
    with pytest.raises(RetryBudgetExceededError):
        list(connector.read(["orders"], {}))
    assert len(shop.requests) == 3


def test_a_list_of_non_objects_is_refused_with_a_hint() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"orders": [1, 2]}))
    connector = ShopifyConnector(settings(), transport=transport, sleep=_no_sleep)
    with pytest.raises(FatalConnectorError) as failure:
        list(connector.read(["orders"], {}))
    assert "'orders' list holds a int" in failure.value.message
    assert "base_url" in (failure.value.hint or "")


def test_an_unknown_stream_is_refused_by_name() -> None:
    with pytest.raises(FatalConnectorError) as failure:
        read(FakeShop(), ["orders", "abandoned_checkouts"])
    assert "abandoned_checkouts" in failure.value.message
    assert "orders, products, customers" in (failure.value.hint or "")


def test_check_reads_shop_json() -> None:
    shop = FakeShop()
    connector = ShopifyConnector(settings(), transport=shop.transport(), sleep=_no_sleep)
    connector.check()
    assert [r.url.path for r in shop.requests] == ["/admin/api/2026-10/shop.json"]


def test_check_refuses_an_answer_that_is_not_a_shop() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"hello": "proxy"}))
    connector = ShopifyConnector(settings(), transport=transport, sleep=_no_sleep)
    with pytest.raises(FatalConnectorError) as failure:
        connector.check()
    assert "shop" in failure.value.message and "base_url" in (failure.value.hint or "")


def test_products_need_the_shop_currency() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"shop": {"name": "Alpenglück", "currency": None}})

    connector = ShopifyConnector(settings(), transport=httpx.MockTransport(answer), sleep=_no_sleep)
    with pytest.raises(FatalConnectorError) as failure:
        list(connector.read(["products"], {}))
    assert "without a currency" in failure.value.message


def test_base_url_overrides_the_shop_host() -> None:
    shop = FakeShop(orders=fresh(FIVE), host="127.0.0.1")
    messages = read(shop, ["orders"], base_url="http://127.0.0.1:8080/")
    assert len(records(messages)) == 5
    assert str(shop.requests[0].url).startswith("http://127.0.0.1:8080/admin/api/2026-10/")


# --------------------------------------------------------------------------- records


def test_order_records_carry_computed_values_and_no_personal_data() -> None:
    shop = FakeShop(orders=fresh(samples.ORDERS))
    found = records(read(shop, ["orders"]))
    assert len(found) == len(samples.ORDERS)
    dumped = json.dumps(found, ensure_ascii=False)
    leaked = [value for value in samples.PERSONAL_VALUES if value in dumped]
    assert not leaked, leaked
    by_id = {r["id"]: r for r in found}
    multi = by_id[samples.MULTI_CURRENCY["id"]]
    assert multi["_hub"] == {
        "order_ref": "2042",
        "click_ref": "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e",
        "click_ref_name": "awc",
        "click_ref_in": "note_attributes",
        "email_sha256": hash_value("lea.zuercher@example.ch"),
    }
    assert multi["billing_address"] == {
        "province": "Zürich",
        "province_code": "ZH",
        "country": "Switzerland",
        "country_code": "CH",
    }
    assert multi["customer"]["id"] == 7788000000012
    assert "first_name" not in multi["customer"]
    assert multi["client_details"] == {
        "accept_language": "de-CH,de;q=0.9",
        "browser_height": None,
        "browser_width": None,
        "user_agent": samples.MAC_SAFARI,
    }
    assert multi["note_attributes"][1]["value"] == "Alles Gute! ⛰️"  # unicode kept as is
    pos = by_id[samples.POS_ORDER["id"]]
    assert pos["customer"] is None and pos["client_details"] is None
    assert pos["_hub"] == {"order_ref": "2095"}  # e-mail "" has no hash
    assert pos["note"] == "Доставка после 18:00"


def test_prepare_order_does_not_change_its_input() -> None:
    original = fresh(samples.PARTIAL_REFUND)
    prepare_order(original, settings())
    assert original == samples.PARTIAL_REFUND


def test_refunded_quantities_add_up_every_refund_of_a_line() -> None:
    order = fresh(samples.PARTIAL_REFUND)
    order["refunds"].append(
        {"refund_line_items": [{"line_item_id": 16200000000771, "quantity": 1}]}
    )
    assert refunded_quantities(order) == {"16200000000771": 2}
    record = prepare_order(order, settings())
    assert [line["_hub"] for line in record["line_items"]] == [
        {"refunded_quantity": 2},
        {"refunded_quantity": 0},
    ]


def test_strip_personal_data_removes_payer_details_from_refund_transactions() -> None:
    clean = strip_personal_data(samples.PARTIAL_REFUND)
    transaction = clean["refunds"][0]["transactions"][0]
    assert "receipt" not in transaction and "payment_details" not in transaction
    assert transaction["amount"] == "32.10" and transaction["currency"] == "USD"


@pytest.mark.parametrize(
    ("names", "order_fields", "expected"),
    [
        (
            ("awc",),
            {"note_attributes": [{"name": "awc", "value": "n"}], "landing_site": "/?awc=l"},
            ("n", "awc", "note_attributes"),
        ),
        (
            ("awc",),
            {"note_attributes": [], "landing_site": "/p?x=1&awc=l%2B1"},
            ("l+1", "awc", "landing_site"),
        ),
        (
            ("awc", "gclid"),
            {"note_attributes": [{"name": "gclid", "value": "g"}], "landing_site": "/?awc=l"},
            ("g", "gclid", "note_attributes"),
        ),
        (
            ("Partner_Click",),
            {"note_attributes": [{"name": "partner_click", "value": "x"}]},
            (None, None, None),
        ),
        (
            ("awc",),
            {"note_attributes": [{"name": "awc", "value": "  "}], "landing_site": None},
            (None, None, None),
        ),
        (
            ("awc",),
            {"note_attributes": None, "landing_site": "https://shop.example/?awc=abs"},
            ("abs", "awc", "landing_site"),
        ),
    ],
)
def test_find_click_ref(
    names: tuple[str, ...], order_fields: dict[str, Any], expected: Any
) -> None:
    assert find_click_ref(order_fields, names) == expected


def test_order_ref_follows_the_setting() -> None:
    shop = FakeShop(orders=[fresh(samples.MULTI_CURRENCY)])
    for setting, expected in [("order_number", "2042"), ("name", "#2042"), ("id", "6123400000042")]:
        found = records(read(shop, ["orders"], order_ref=setting))
        assert found[0]["_hub"]["order_ref"] == expected


def test_products_yield_one_record_per_variant_with_the_shop_currency() -> None:
    shop = FakeShop(products=fresh(samples.PRODUCTS))
    messages = read(shop, ["products"])
    found = records(messages)
    assert [(r["id"], r["variant"]["id"]) for r in found] == [
        (9100000000001, 48100000000001),  # products ordered by updated_at, variants in order
        (9100000000001, 48100000000002),
        (9100000000006, 48100000000061),
    ]
    by_variant = {r["variant"]["id"]: r for r in found}
    first = by_variant[48100000000001]
    assert "variants" not in first
    assert first["_hub"] == {
        "shop_currency": "EUR",
        "url": f"https://{SHOP}.myshopify.com/products/tagesrucksack-alpsee",
    }
    assert by_variant[48100000000061]["_hub"] == {"shop_currency": "EUR"}  # unpublished: no URL
    paths = [r.url.path for r in shop.requests]
    assert paths == ["/admin/api/2026-10/shop.json", "/admin/api/2026-10/products.json"]
    assert dict(shop.requests[1].url.params)["order"] == "updated_at asc"
    assert "status" not in dict(shop.requests[1].url.params)  # products: every status
    assert checkpoints(messages) == [{"updated_at": "2025-03-02T08:00:00Z"}]


def test_customers_lose_personal_data_and_get_the_orders_customer_ref() -> None:
    shop = FakeShop(customers=fresh(samples.CUSTOMERS))
    found = records(read(shop, ["customers"]))
    dumped = json.dumps(found, ensure_ascii=False)
    assert not [value for value in samples.PERSONAL_VALUES if value in dumped]
    lea = found[0]
    assert lea["orders_count"] == 4 and lea["last_order_id"] == 6123400000042
    assert lea["_hub"] == {
        "customer_ref": hash_value(7788000000012),
        "email_sha256": hash_value("lea.zuercher@example.ch"),
    }
    assert found[1]["_hub"] == {"customer_ref": hash_value(7788000000099)}


def test_several_streams_in_one_read_each_end_with_a_checkpoint() -> None:
    shop = FakeShop(
        orders=fresh(samples.ORDERS),
        products=fresh(samples.PRODUCTS),
        customers=fresh(samples.CUSTOMERS),
    )
    messages = read(shop, ["customers", "orders"])
    assert {m.stream for m in messages} == {"customers", "orders"}
    assert isinstance(messages[-1], Checkpoint) and messages[-1].stream == "orders"
    last_customer = max(i for i, m in enumerate(messages) if m.stream == "customers")
    assert isinstance(messages[last_customer], Checkpoint)


# --------------------------------------------------------------------------- plugin


@pytest.fixture
def shopify_plugin() -> Iterator[None]:
    """The shopify plugin registered (unless its entry point already did)."""
    manager = plugins.get_plugin_manager()
    added = not manager.is_registered(connectors.shopify)
    if added:
        plugins.register_plugin(connectors.shopify, name="shopify-under-test")
    plugins.reset_registry()
    yield
    if added:
        plugins.unregister_plugin("shopify-under-test")
    plugins.reset_registry()


def test_the_plugin_registers_connector_mapping_and_converters(shopify_plugin: None) -> None:
    registry = plugins.get_registry()
    assert registry.connector("shopify") is ShopifyConnector
    assert mapping_file() in registry.mapping_files
    assert mapping_file().name == "shopify.yaml" and mapping_file().is_file()
    assert set(CONVERTERS) <= set(registry.converters)
    loaded = load_mappings()
    assert loaded.streams("shopify") == ["orders", "products"]


def test_the_connector_lists_its_streams_with_schemas() -> None:
    streams = {s.name: s for s in ShopifyConnector.streams()}
    assert list(streams) == ["orders", "products", "customers"]
    for stream in streams.values():
        assert stream.cursor_field == "updated_at"
        assert "updated_at" in stream.json_schema["required"]
    assert streams["products"].primary_key == ("variant.id",)


def test_lookback_is_applied_in_minutes() -> None:
    state = {"updated_at": "2025-03-04T10:00:00+01:00"}
    start = start_instant(settings(lookback_minutes=15), state, "orders")
    assert start == datetime.fromisoformat(state["updated_at"]) - timedelta(minutes=15)


# --------------------------------------------------------------------------- fast paths
# Plain dicts (every parsed record) take shortcuts; other mappings take the general
# path. Both must give the same records, keys in the same order.


class FrozenMapping(Mapping[str, Any]):
    """A read-only mapping that is not a dict: it takes the general path."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def frozen(value: Any) -> Any:
    """``value`` with every dict in it replaced by a :class:`FrozenMapping`."""
    if isinstance(value, dict):
        return FrozenMapping({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return [frozen(item) for item in value]
    return value


def as_json(value: Any) -> str:
    """JSON text keeping key order, any mapping written as an object."""
    return json.dumps(value, default=dict, ensure_ascii=False)


ODD_ORDER: dict[str, Any] = {
    "id": 6123400000099,
    "email": "  ",
    "contact_email": None,
    "customer": {"id": 1, "email": "Kim@Example.com", "first_name": "Kim", "state": None},
    "billing_address": None,
    "shipping_address": ["not", "an", "object"],
    "client_details": {"browser_ip": "192.0.2.1"},
    "shipping_lines": [{"phone": "+41", "title": "Post"}, None, "x", {"title": "Pick-up"}],
    "note_attributes": [
        None,
        {"name": "awc", "value": "  "},
        {"name": 7, "value": "number name"},
        {"name": "gclid", "value": 0},
        {"name": "gclid", "value": "second"},
    ],
    "landing_site": "/p?awc=%20&gclid=ignored",
    "line_items": [
        {"_hub": "replaced", "id": 16200000000001, "quantity": 2},
        {"id": None},
        "not a line",
        {"title": "no id"},
    ],
    "refunds": [
        None,
        {"transactions": None, "refund_line_items": None},
        {
            "transactions": [{"receipt": {}, "payment_details": {}, "amount": "1.00"}, 5],
            "refund_line_items": [
                {"line_item_id": 16200000000001, "quantity": 1},
                {"line_item_id": "16200000000001", "quantity": 1},
                {"line_item_id": 16200000000001, "quantity": True},
                {"line_item_id": None, "quantity": 1},
                "x",
            ],
        },
    ],
    "phone": "+41",
    "order_status_url": "https://example.com/status",
}


@pytest.mark.parametrize(
    "raw",
    [*samples.ORDERS, ODD_ORDER, {"id": 1}, {"id": 2, "line_items": None, "refunds": "x"}],
    ids=lambda raw: str(raw["id"]),
)
@pytest.mark.parametrize("order_ref", ["order_number", "name", "id"])
def test_prepare_order_of_a_dict_equals_the_general_path(
    raw: dict[str, Any], order_ref: str
) -> None:
    config = settings(order_ref=order_ref, click_ref_attributes=["awc", "gclid"])
    fast = prepare_order(fresh(raw), config)
    general = prepare_order(frozen(fresh(raw)), config)
    assert type(fast) is dict and type(general) is dict
    assert fast == json.loads(as_json(general))
    assert as_json(fast) == as_json(general)


def test_prepare_order_of_odd_values_keeps_them_in_place() -> None:
    record = prepare_order(fresh(ODD_ORDER), settings(click_ref_attributes=["awc", "gclid"]))
    assert list(record) == [
        "id",
        "customer",
        "billing_address",
        "shipping_address",
        "client_details",
        "shipping_lines",
        "note_attributes",
        "landing_site",
        "line_items",
        "refunds",
        "_hub",
    ]
    assert record["customer"] == {"id": 1, "state": None}
    assert record["billing_address"] is None
    assert record["shipping_address"] == ["not", "an", "object"]
    assert record["client_details"] == {}
    assert record["shipping_lines"] == [{"title": "Post"}, None, "x", {"title": "Pick-up"}]
    assert record["line_items"] == [
        {"_hub": {"refunded_quantity": 2}, "id": 16200000000001, "quantity": 2},
        {"id": None, "_hub": {"refunded_quantity": 0}},
        "not a line",
        {"title": "no id", "_hub": {"refunded_quantity": 0}},
    ]
    assert record["refunds"][:2] == [None, {"transactions": None, "refund_line_items": None}]
    assert record["refunds"][2]["transactions"] == [{"amount": "1.00"}, 5]
    assert record["_hub"] == {
        "click_ref": "0",
        "click_ref_name": "gclid",
        "click_ref_in": "note_attributes",
        "email_sha256": hash_value("kim@example.com"),
    }


def test_prepare_order_gives_every_line_item_its_own_copy_and_hub_object() -> None:
    raw = fresh(samples.PARTIAL_REFUND)
    record = prepare_order(raw, settings())
    lines = record["line_items"]
    assert len(lines) == len(raw["line_items"]) > 1
    assert not {id(line) for line in lines} & {id(line) for line in raw["line_items"]}
    assert len({id(line["_hub"]) for line in lines}) == len(lines)
    assert all("_hub" not in line for line in raw["line_items"])


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "email": "x", "b": 2, "phone": None, "c": 3},
        {"email": "x"},
        {},
        {"a": 1},
    ],
)
def test_without_gives_a_new_dict_with_the_other_keys_in_order(value: dict[str, Any]) -> None:
    dropped = ("phone", "email", "absent")
    expected = [(key, item) for key, item in value.items() if key not in dropped]
    for source in (value, FrozenMapping(value), type("Sub", (dict,), {})(value)):
        before = dict(source)
        result = _without(source, dropped)
        assert type(result) is dict and result is not source
        assert list(result.items()) == expected
        assert dict(source) == before and list(source) == list(before)


@pytest.mark.parametrize("value", [None, "text", 0, ["a"], ("a",)])
def test_kept_passes_anything_but_a_mapping_as_it_is(value: Any) -> None:
    assert _kept(value, ("a",)) is value


def test_kept_gives_the_keys_in_the_order_asked_for_any_mapping() -> None:
    value = {"z": 1, "a": None, "m": 3}
    for source in (value, FrozenMapping(value)):
        assert list(_kept(source, ("a", "absent", "z")).items()) == [("a", None), ("z", 1)]


@pytest.mark.parametrize(
    ("order_fields", "expected"),
    [
        ({"email": "a@x", "contact_email": "b@x", "customer": {"email": "c@x"}}, "a@x"),
        ({"email": " ", "contact_email": "b@x", "customer": {"email": "c@x"}}, "b@x"),
        ({"email": 5, "contact_email": "", "customer": {"email": "c@x"}}, "c@x"),
        ({"customer": FrozenMapping({"email": "c@x"})}, "c@x"),
        ({"customer": ["c@x"]}, None),
        ({"customer": {"email": None}}, None),
        ({}, None),
    ],
)
def test_order_email_is_the_first_non_blank_text(
    order_fields: dict[str, Any], expected: str | None
) -> None:
    assert _order_email(order_fields) == expected


@pytest.mark.parametrize(
    ("landing_site", "expected"),
    [
        ("/products/rucksack", (None, None, None)),  # no query: the first name is enough
        ("/p?utm_source=x", (None, None, None)),
        ("/p?gclid=g", ("g", "gclid", "landing_site")),  # found under a later name
        ("/p?awc=+&gclid=g", ("g", "gclid", "landing_site")),  # blank first value skipped
        ("/p?awc=%20a%20", ("a", "awc", "landing_site")),
        (12345, (None, None, None)),
        ("https://shop.example/p", (None, None, None)),
    ],
)
def test_find_click_ref_in_landing_site(landing_site: Any, expected: Any) -> None:
    assert find_click_ref({"landing_site": landing_site}, ("awc", "gclid")) == expected


@pytest.mark.parametrize(
    "landing_site", ["https://[bad-host", "https://[bad-host/?awc=1", {"path": "/?awc=1"}]
)
def test_a_landing_site_that_is_no_url_holds_no_click_ref(landing_site: Any) -> None:
    assert find_click_ref({"landing_site": landing_site}, ("awc", "gclid")) == (None, None, None)


def test_an_order_whose_landing_site_is_no_url_is_quarantined_not_fatal() -> None:
    """The connector hands the order on; the mapping refuses it with the reason, so the
    run quarantines that one order and goes on (a crash in read would end the sync)."""
    order = {**samples.MULTI_CURRENCY, "landing_site": "https://[bad-host/?awc=1"}
    record = prepare_order(order, settings())
    mapping = load_mappings().compile("shopify", "orders", None, origin="test")
    with pytest.raises(RecordError, match=r"landing_site|IPv6"):
        normalize(mapping, record, tenant="t", connection="c", synced_at=datetime.now(UTC))
