"""The Shopify sandbox behaves like the real Admin REST API (apis.md section 1), over real HTTP.

Every test talks to a server on 127.0.0.1 with httpx; expectations come from
the generator's pure functions (``ShopData``), never from the server itself.
"""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from connectors.shopify.client import ShopifyClient
from connectors.shopify.destination import ShopifyDiscountDestination, ShopifyDiscountSettings
from connectors.shopify.sandbox import ShopData, ShopifySandbox
from connectors.shopify.sandbox.basics import shop_time
from connectors.shopify.sandbox.server import INVALID_TOKEN, LeakyBucket
from connectors.shopify.settings import ShopifySettings

TOKEN = "shpat_sandbox_test_0123456789"
ORDERS = 500
API = "/admin/api/2025-01"


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(orders=ORDERS, token=TOKEN, seed=1, rate_limit=False) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def data() -> ShopData:
    return ShopData(1)


@pytest.fixture(scope="module")
def all_orders(data: ShopData) -> list[dict[str, Any]]:
    return list(data.orders(ORDERS))


def client(sandbox: ShopifySandbox, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"X-Shopify-Access-Token": token})


def follow(
    http: httpx.Client, url: str, params: dict[str, Any] | None = None
) -> list[httpx.Response]:
    """Every page of a list, following rel="next" exactly as given."""
    responses = [http.get(url, params=params)]
    while "next" in responses[-1].links:
        responses.append(http.get(responses[-1].links["next"]["url"]))
    for response in responses:
        assert response.status_code == 200, response.text
    return responses


def ids(responses: list[httpx.Response], key: str = "orders") -> list[int]:
    return [record["id"] for r in responses for record in r.json()[key]]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- paging


def test_link_headers_look_like_shopifys(shop: ShopifySandbox, data: ShopData) -> None:
    with client(shop) as http:
        pages = follow(http, f"{API}/orders.json", {"status": "any", "limit": 150})
    assert len(pages) == 4  # 150 + 150 + 150 + 50
    first, middle, last = (
        pages[0].headers["Link"],
        pages[1].headers["Link"],
        pages[-1].headers["Link"],
    )
    assert re.fullmatch(r'<[^>]+>; rel="next"', first)
    assert re.fullmatch(r'<[^>]+>; rel="previous", <[^>]+>; rel="next"', middle)
    assert re.fullmatch(r'<[^>]+>; rel="previous"', last)
    for header in (first, middle, last):
        for url in re.findall(r"<([^>]+)>", header):
            parts = urlsplit(url)
            assert f"{parts.scheme}://{parts.netloc}" == shop.url
            assert parts.path == f"{API}/orders.json"
            assert set(parse_qs(parts.query)) == {"limit", "page_info"}
            assert parse_qs(parts.query)["limit"] == ["150"]
            token = parse_qs(parts.query)["page_info"][0]
            assert base64.urlsafe_b64decode(token + "==")[:2] == b'{"'  # eyJ..., like Shopify's
    assert ids(pages) == [data.order_id(i) for i in range(ORDERS)]  # default sort: id asc


def test_no_link_header_when_everything_fits_on_one_page(shop: ShopifySandbox) -> None:
    with client(shop) as http:
        products = http.get(f"{API}/products.json", params={"limit": 250})
        orders = http.get(f"{API}/orders.json", params={"status": "cancelled", "limit": 250})
    assert products.status_code == orders.status_code == 200
    assert "link" not in products.headers and "link" not in orders.headers
    assert len(products.json()["products"]) == 40
    assert 0 < len(orders.json()["orders"]) < 250


@pytest.mark.parametrize("order", ["updated_at asc", "updated_at desc", "id desc"])
def test_sort_orders_and_previous_links(shop: ShopifySandbox, data: ShopData, order: str) -> None:
    field, direction = order.split()
    if field == "updated_at":
        expected = sorted(range(ORDERS), key=lambda i: (data.facts(i).updated, i))
    else:
        expected = list(range(ORDERS))
    if direction == "desc":
        expected.reverse()
    with client(shop) as http:
        forward = follow(
            http, f"{API}/orders.json", {"status": "any", "limit": 120, "order": order}
        )
        backward = [forward[-1]]
        while "previous" in backward[-1].links:
            backward.append(http.get(backward[-1].links["previous"]["url"]))
    assert ids(forward) == [data.order_id(i) for i in expected]
    assert [ids([r]) for r in reversed(backward)] == [ids([r]) for r in forward]


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "any"},
        {"updated_at_min": "2025-03-30T00:00:00+01:00"},
        {"order": "updated_at asc"},
    ],
)
def test_page_info_with_another_filter_is_refused(
    shop: ShopifySandbox, extra: dict[str, str]
) -> None:
    with client(shop) as http:
        first = http.get(f"{API}/orders.json", params={"status": "any", "limit": 50})
        token = first.links["next"]["url"].split("page_info=")[1]
        refused = http.get(f"{API}/orders.json", params={"limit": 50, "page_info": token, **extra})
        allowed = http.get(
            f"{API}/orders.json", params={"limit": 10, "page_info": token, "fields": "id"}
        )
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert list(errors) == ["page_info"] and next(iter(extra)) in errors["page_info"]
    assert allowed.status_code == 200
    assert [set(o) for o in allowed.json()["orders"]] == [{"id"}] * 10
    assert "fields=id" in allowed.headers["Link"]


def test_a_garbled_page_info_is_a_400(shop: ShopifySandbox) -> None:
    with client(shop) as http:
        for token in ("not-a-token", base64.urlsafe_b64encode(b'{"x": 1}').decode()):
            response = http.get(f"{API}/orders.json", params={"page_info": token})
            assert response.status_code == 400
            assert response.json() == {"errors": {"page_info": "Invalid value."}}
        products = http.get(f"{API}/products.json", params={"limit": 5})
        token = products.links["next"]["url"].split("page_info=")[1]
        assert http.get(f"{API}/orders.json", params={"page_info": token}).status_code == 400


@pytest.mark.parametrize("limit", ["251", "0", "many"])
def test_limit_outside_1_to_250_is_a_400(shop: ShopifySandbox, limit: str) -> None:
    with client(shop) as http:
        response = http.get(f"{API}/orders.json", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_default_page_size_is_50(shop: ShopifySandbox) -> None:
    with client(shop) as http:
        response = http.get(f"{API}/orders.json", params={"status": "any"})
    assert len(response.json()["orders"]) == 50
    assert "limit=50" in response.headers["Link"]


def test_status_defaults_to_open_and_any_returns_everything(
    shop: ShopifySandbox, data: ShopData
) -> None:
    facts = [data.facts(i) for i in range(ORDERS)]
    expected = {
        "open": {data.order_id(f.order_index) for f in facts if not f.closed and not f.cancelled},
        "closed": {data.order_id(f.order_index) for f in facts if f.closed},
        "cancelled": {data.order_id(f.order_index) for f in facts if f.cancelled},
        "any": {data.order_id(i) for i in range(ORDERS)},
    }
    assert 0 < len(expected["open"]) < ORDERS / 2 < len(expected["closed"])
    with client(shop) as http:
        default = ids(follow(http, f"{API}/orders.json", {"limit": 250}))
        assert set(default) == expected["open"] and len(default) == len(expected["open"])
        for status, wanted in expected.items():
            listed = ids(follow(http, f"{API}/orders.json", {"status": status, "limit": 250}))
            assert sorted(listed) == sorted(wanted), status
            count = http.get(f"{API}/orders/count.json", params={"status": status}).json()
            assert count == {"count": len(wanted)}
        assert http.get(f"{API}/orders/count.json").json() == {"count": len(expected["open"])}


def test_updated_at_min_is_an_instant_whatever_the_offset(
    shop: ShopifySandbox, all_orders: list[dict[str, Any]]
) -> None:
    offsets = {o["updated_at"][-6:] for o in all_orders} | {
        o["created_at"][-6:] for o in all_orders
    }
    assert offsets == {"+01:00", "+02:00"}  # the data spans the switch to summer time
    threshold = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # summer time starts at 01:00 UTC
    expected = [o["id"] for o in all_orders if instant(o["updated_at"]) >= threshold]
    upper = threshold + timedelta(hours=20)
    bounded = [o["id"] for o in all_orders if threshold <= instant(o["updated_at"]) <= upper]
    assert 0 < len(bounded) < len(expected) < ORDERS
    spellings = [
        threshold.isoformat(),
        threshold.astimezone(timezone(timedelta(hours=1))).isoformat(),
        threshold.astimezone(timezone(timedelta(hours=2))).isoformat(),
        threshold.astimezone(timezone(timedelta(hours=-5))).isoformat(),
        threshold.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]
    with client(shop) as http:
        for spelling in spellings:
            query = {
                "status": "any",
                "limit": 100,
                "updated_at_min": spelling,
                "order": "updated_at asc",
            }
            pages = follow(http, f"{API}/orders.json", query)
            assert sorted(ids(pages)) == sorted(expected), spelling
            stamps = [instant(o["updated_at"]) for r in pages for o in r.json()["orders"]]
            assert stamps == sorted(stamps)
            query["updated_at_max"] = upper.astimezone(ZoneInfo("America/New_York")).isoformat()
            assert sorted(ids(follow(http, f"{API}/orders.json", query))) == sorted(bounded)
        count = http.get(
            f"{API}/orders/count.json", params={"status": "any", "updated_at_min": spellings[2]}
        )
        assert count.json() == {"count": len(expected)}


def test_an_order_updated_while_paging_shows_up_again_later(data: ShopData) -> None:
    with ShopifySandbox(
        orders=300, token=TOKEN, rate_limit=False, mutate_during_paging=True
    ) as shop:
        with client(shop) as http:
            query = {"status": "any", "limit": 50, "order": "updated_at asc"}
            pages = follow(http, f"{API}/orders.json", query)
        mutated = dict(shop.mutated)
    seen = [o for r in pages for o in r.json()["orders"]]
    counts = Counter(o["id"] for o in seen)
    twice = sorted(i for i, n in counts.items() if n == 2)
    assert twice and twice == sorted(mutated) and max(counts.values()) == 2
    assert len(counts) == 300  # nothing lost
    for order_id in twice:
        first, second = (o for o in seen if o["id"] == order_id)
        assert first == data.order(data.order_index(order_id))
        assert instant(second["updated_at"]) > instant(first["updated_at"])
        assert second["updated_at"] == mutated[order_id]
        assert second["total_price"] == first["total_price"]
        assert "nachbearbeitet" in second["tags"]


def test_single_orders_fields_and_not_found(shop: ShopifySandbox, data: ShopData) -> None:
    with client(shop) as http:
        one = http.get(f"{API}/orders/{data.order_id(7)}.json")
        slim = http.get(
            f"{API}/orders/{data.order_id(7)}.json", params={"fields": "id,name,total_price"}
        )
        missing = http.get(f"{API}/orders/{data.order_id(ORDERS)}.json")
        unknown = http.get(f"{API}/webhooks_that_do_not_exist.json")
    assert one.json() == {"order": data.order(7)}
    assert slim.json() == {"order": {k: data.order(7)[k] for k in ("id", "name", "total_price")}}
    assert missing.status_code == unknown.status_code == 404
    assert missing.json() == {"errors": "Not Found"}


def test_any_api_version_is_echoed(shop: ShopifySandbox) -> None:
    with client(shop) as http:
        for version in ("2024-10", "2026-10", "unstable"):
            response = http.get(f"/admin/api/{version}/shop.json")
            assert response.headers["X-Shopify-API-Version"] == version
            assert response.json()["shop"]["currency"] == "EUR"
            assert response.json()["shop"]["iana_timezone"] == "Europe/Berlin"


def test_served_orders_are_the_generators(
    shop: ShopifySandbox, all_orders: list[dict[str, Any]]
) -> None:
    with client(shop) as http:
        pages = follow(http, f"{API}/orders.json", {"status": "any", "limit": 250})
    assert [o for r in pages for o in r.json()["orders"]] == all_orders


# --------------------------------------------------------------------------- auth and limits


@pytest.mark.parametrize("token", [None, "", "shpat_wrong"])
def test_a_missing_or_wrong_token_is_a_401_with_shopifys_body(
    shop: ShopifySandbox, token: str | None
) -> None:
    headers = {} if token is None else {"X-Shopify-Access-Token": token}
    response = httpx.get(f"{shop.url}{API}/orders.json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": INVALID_TOKEN}
    assert (
        INVALID_TOKEN
        == "[API] Invalid API key or access token (unrecognized login or wrong password)"
    )
    assert "X-Shopify-Shop-Api-Call-Limit" not in response.headers


def test_every_response_reports_the_bucket_and_a_full_bucket_answers_429() -> None:
    with (
        ShopifySandbox(orders=20, token=TOKEN, bucket_size=3, leak_rate=2.0) as shop,
        client(shop) as http,
    ):
        responses = [http.get(f"{API}/shop.json") for _ in range(4)]
    assert [r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in responses[:3]] == [
        "1/3",
        "2/3",
        "3/3",
    ]
    refused = responses[3]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2.0"
    assert refused.headers["X-Shopify-Shop-Api-Call-Limit"] == "3/3"
    assert refused.json() == {
        "errors": "Exceeded 2 calls per second for api client. "
        "Reduce request rates to resume uninterrupted service."
    }


def test_the_bucket_leaks_at_its_rate() -> None:
    now = [100.0]
    bucket = LeakyBucket(size=4, leak_rate=2.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [
        (True, 1),
        (True, 2),
        (True, 3),
        (True, 4),
        (False, 4),
    ]
    now[0] += 0.5  # one request leaked out
    assert bucket.take() == (True, 4)
    assert bucket.take() == (False, 4)
    now[0] += 10
    assert bucket.take() == (True, 1)


def test_injected_429s_and_switching_limits_off() -> None:
    with ShopifySandbox(
        orders=5, token=TOKEN, rate_limit=False, inject_429_every=3, retry_after=0.25
    ) as shop:
        with client(shop) as http:
            responses = [http.get(f"{API}/orders/count.json") for _ in range(7)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429, 200]
    assert {r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in responses} == {"1/40"}
    assert responses[2].headers["Retry-After"] == "0.25"
    with ShopifySandbox(orders=5, token=TOKEN, inject_429_every=2) as shop, client(shop) as http:
        stray = [http.get(f"{API}/shop.json") for _ in range(2)][1]
    assert stray.status_code == 429 and stray.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    with ShopifySandbox(orders=5, token=TOKEN, rate_limit=False) as shop, client(shop) as http:
        assert {http.get(f"{API}/shop.json").status_code for _ in range(60)} == {200}


def test_the_hubs_shopify_client_pages_through_429s() -> None:
    """The project's own client (Link paging, call-limit pacing, Retry-After) reads everything."""
    with ShopifySandbox(orders=120, token=TOKEN, inject_429_every=4, retry_after=0.01) as shop:
        settings = ShopifySettings(
            shop=shop.shop,
            access_token=TOKEN,
            base_url=shop.url,
            start_date="2025-01-01",
            api_version="2025-01",
            leak_rate=2.0,
        )
        shopify = ShopifyClient(settings)
        try:
            pages = list(shopify.pages("orders.json", {"status": "any", "limit": 25}, "orders"))
        finally:
            shopify.close()
        statuses = Counter(r.status for r in shop.requests)
    assert [o["id"] for p in pages for o in p.records()] == [
        ShopData.order_id(i) for i in range(120)
    ]
    assert statuses[429] >= 1 and statuses[200] == 5


# --------------------------------------------------------------------------- data


def test_same_seed_same_orders_other_seed_other_orders() -> None:
    a, b, c = ShopData(42), ShopData(42), ShopData(43)
    assert [orjson.dumps(a.order(i)) for i in range(60)] == [
        orjson.dumps(b.order(i)) for i in range(60)
    ]
    assert a.order(59) == ShopData(42).order(59)  # order i does not depend on what came before
    differing = sum(a.order(i)["total_price"] != c.order(i)["total_price"] for i in range(60))
    assert differing > 40
    assert a.products == b.products and a.products != c.products


def test_facts_agree_with_the_orders(data: ShopData, all_orders: list[dict[str, Any]]) -> None:
    for i, order in enumerate(all_orders):
        f = data.facts(i)
        assert order["id"] == data.order_id(i) and order["order_number"] == 1001 + i
        assert instant(order["created_at"]).timestamp() == f.created
        assert instant(order["updated_at"]).timestamp() == f.updated
        assert (order["closed_at"] is not None) == (f.closed is not None)
        assert (order["cancelled_at"] is not None) == (f.cancelled is not None)
        assert order["test"] is f.test
    created = [instant(o["created_at"]) for o in all_orders]
    assert created == sorted(created)


MONEY = re.compile(r"^-?\d+\.\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$")
ORDER_FIELDS = {
    "id",
    "admin_graphql_api_id",
    "name",
    "order_number",
    "number",
    "token",
    "confirmation_number",
    "created_at",
    "updated_at",
    "processed_at",
    "cancelled_at",
    "cancel_reason",
    "closed_at",
    "confirmed",
    "test",
    "financial_status",
    "fulfillment_status",
    "source_name",
    "app_id",
    "location_id",
    "device_id",
    "user_id",
    "tags",
    "note",
    "note_attributes",
    "po_number",
    "reference",
    "order_status_url",
    "currency",
    "presentment_currency",
    "total_line_items_price",
    "total_line_items_price_set",
    "total_discounts",
    "total_discounts_set",
    "subtotal_price",
    "subtotal_price_set",
    "total_shipping_price_set",
    "total_tax",
    "total_tax_set",
    "taxes_included",
    "tax_lines",
    "tax_exempt",
    "estimated_taxes",
    "total_tip_received",
    "total_price",
    "total_price_set",
    "current_subtotal_price",
    "current_subtotal_price_set",
    "current_total_discounts",
    "current_total_discounts_set",
    "current_total_tax",
    "current_total_tax_set",
    "current_total_price",
    "current_total_price_set",
    "current_total_duties_set",
    "original_total_duties_set",
    "current_total_additional_fees_set",
    "original_total_additional_fees_set",
    "total_outstanding",
    "total_weight",
    "total_cash_rounding_payment_adjustment_set",
    "total_cash_rounding_refund_adjustment_set",
    "payment_gateway_names",
    "payment_terms",
    "landing_site",
    "landing_site_ref",
    "referring_site",
    "browser_ip",
    "client_details",
    "customer_locale",
    "buyer_accepts_marketing",
    "cart_token",
    "checkout_token",
    "checkout_id",
    "discount_codes",
    "discount_applications",
    "email",
    "contact_email",
    "phone",
    "customer",
    "billing_address",
    "shipping_address",
    "company",
    "line_items",
    "shipping_lines",
    "fulfillments",
    "refunds",
    "source_identifier",
    "source_url",
}
LINE_FIELDS = {
    "id",
    "admin_graphql_api_id",
    "product_id",
    "variant_id",
    "product_exists",
    "sku",
    "title",
    "variant_title",
    "name",
    "vendor",
    "quantity",
    "current_quantity",
    "fulfillable_quantity",
    "fulfillment_status",
    "price",
    "price_set",
    "total_discount",
    "total_discount_set",
    "discount_allocations",
    "tax_lines",
    "duties",
    "taxable",
    "requires_shipping",
    "gift_card",
    "grams",
    "properties",
    "variant_inventory_management",
    "attributed_staffs",
}
REMOVED = {"gateway", "payment_details", "processing_method", "total_price_usd"}


def cents(value: str | float) -> int:
    return int(Decimal(str(value)) * 100)


def check_set(value: dict[str, Any], plain: str | None, currency: str) -> tuple[int, int]:
    """A *_set twin: shop money in EUR (equal to the plain field), presentment money."""
    shop_money, presentment = value["shop_money"], value["presentment_money"]
    assert shop_money["currency_code"] == "EUR" and presentment["currency_code"] == currency
    assert MONEY.match(shop_money["amount"]) and MONEY.match(presentment["amount"])
    if plain is not None:
        assert shop_money["amount"] == plain
    return cents(shop_money["amount"]), cents(presentment["amount"])


def check_order(order: dict[str, Any]) -> None:
    assert set(order) >= ORDER_FIELDS and not REMOVED & set(order)
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert (
        order["number"] == order["order_number"] - 1000
        and order["name"] == f"#{order['order_number']}"
    )
    assert order["currency"] == "EUR"
    cur = order["presentment_currency"]
    for key in ("created_at", "updated_at", "processed_at"):
        assert TIMESTAMP.match(order[key]), order[key]
    for key, value in order.items():
        if key.endswith("_set") and value is not None:
            check_set(value, order.get(key.removesuffix("_set")), cur)
    sums = {"lines": [0, 0], "discounts": [0, 0], "tax": [0, 0], "net": [0, 0]}
    for item in order["line_items"]:
        assert set(item) >= LINE_FIELDS
        assert not {"origin_location", "destination_location", "fulfillment_service"} & set(item)
        assert isinstance(item["quantity"], int) and item["quantity"] >= 1
        price = check_set(item["price_set"], item["price"], cur)
        discount = [0, 0]
        for allocation in item["discount_allocations"]:
            amount = check_set(allocation["amount_set"], allocation["amount"], cur)
            discount = [discount[0] + amount[0], discount[1] + amount[1]]
            assert order["discount_applications"][allocation["discount_application_index"]]
        for n in (0, 1):
            sums["lines"][n] += price[n] * item["quantity"]
            sums["discounts"][n] += discount[n]
            sums["net"][n] += price[n] * item["quantity"] - discount[n]
            sums["tax"][n] += sum(
                check_set(t["price_set"], t["price"], cur)[n] for t in item["tax_lines"]
            )
        if item["product_id"] is None:
            assert item["variant_id"] is None and item["product_exists"] is False
    shipping = [0, 0]
    for line in order["shipping_lines"]:
        price = check_set(line["discounted_price_set"], line["discounted_price"], cur)
        shipping = [shipping[0] + price[0], shipping[1] + price[1]]
        for allocation in line["discount_allocations"]:
            amount = check_set(allocation["amount_set"], allocation["amount"], cur)
            sums["discounts"] = [sums["discounts"][0] + amount[0], sums["discounts"][1] + amount[1]]
        for n in (0, 1):
            sums["tax"][n] += sum(
                check_set(t["price_set"], t["price"], cur)[n] for t in line["tax_lines"]
            )
    for n, key in enumerate(("shop_money", "presentment_money")):
        assert cents(order["total_line_items_price_set"][key]["amount"]) == sums["lines"][n]
        assert cents(order["subtotal_price_set"][key]["amount"]) == sums["net"][n]
        assert cents(order["total_tax_set"][key]["amount"]) == sums["tax"][n]
        assert cents(order["total_discounts_set"][key]["amount"]) == sums["discounts"][n]
        included = 0 if order["taxes_included"] else sums["tax"][n]
        assert (
            cents(order["total_price_set"][key]["amount"])
            == sums["net"][n] + shipping[n] + included
        )
    if cur != "EUR":
        assert (
            order["total_price_set"]["presentment_money"]["amount"] != order["total_price"]
            or order["total_price"] == "0.00"
        )
    for code in order["discount_codes"]:
        assert set(code) == {"code", "amount", "type"} and MONEY.match(code["amount"])
        assert code["type"] in ("percentage", "fixed_amount", "shipping")
    for attribute in order["note_attributes"]:
        assert set(attribute) == {"name", "value"} and isinstance(attribute["value"], str)
    if order["source_name"] == "pos":
        assert order["client_details"] is None and order["landing_site"] is None
        if order["customer"] is None:
            assert order["email"] == ""
    else:
        assert order["location_id"] is None
    if order["customer"] is not None:
        assert not {"orders_count", "total_spent", "last_order_id", "last_order_name"} & set(
            order["customer"]
        )
        assert order["email"] == order["customer"]["email"]
    refunded_quantity: Counter[int] = Counter()
    for refund in order["refunds"]:
        assert TIMESTAMP.match(refund["created_at"])
        for line in refund["refund_line_items"]:
            assert isinstance(line["subtotal"], int | float) and isinstance(
                line["total_tax"], int | float
            )
            assert cents(line["subtotal"]) == cents(line["subtotal_set"]["shop_money"]["amount"])
            refunded_quantity[line["line_item_id"]] += line["quantity"]
        for adjustment in refund["order_adjustments"]:
            assert adjustment["amount"].startswith("-") and MONEY.match(adjustment["amount"])
        for transaction in refund["transactions"]:
            assert transaction["kind"] == "refund" and transaction["currency"] == cur
            assert transaction["status"] in ("success", "failure") and MONEY.match(
                transaction["amount"]
            )
    for item in order["line_items"]:
        assert item["current_quantity"] == item["quantity"] - refunded_quantity[item["id"]]
    if order["cancelled_at"] is not None:
        assert order["financial_status"] in ("voided", "refunded")
        assert order["current_total_price"] == "0.00" and order["closed_at"] is not None
        (refund,) = order["refunds"]
        assert {line["restock_type"] for line in refund["refund_line_items"]} == {"cancel"}
        if order["financial_status"] == "voided":
            assert refund["transactions"] == []
    if order["financial_status"] == "partially_refunded":
        assert Decimal("0") < Decimal(order["current_total_price"]) < Decimal(order["total_price"])
        paid_back = sum(
            cents(t["amount"])
            for r in order["refunds"]
            for t in r["transactions"]
            if t["status"] == "success"
        )
        shop_total, presentment_total = (
            cents(order["total_price_set"][k]["amount"])
            for k in ("shop_money", "presentment_money")
        )
        current = cents(order["current_total_price_set"]["presentment_money"]["amount"])
        assert paid_back == presentment_total - current and shop_total > 0
    if order["test"]:
        assert order["payment_gateway_names"] == ["bogus"]


def test_every_order_has_the_real_rest_shape(all_orders: list[dict[str, Any]]) -> None:
    for order in all_orders:
        check_order(order)


def test_the_data_covers_every_trap(data: ShopData, all_orders: list[dict[str, Any]]) -> None:
    traps: Counter[str] = Counter()
    agents = set()
    for o in all_orders:
        attributes = {a["name"]: a["value"] for a in o["note_attributes"]}
        items = o["line_items"]
        traps["presentment differs"] += o["presentment_currency"] != "EUR"
        traps["CHF"] += o["presentment_currency"] == "CHF"
        traps["GBP"] += o["presentment_currency"] == "GBP"
        traps["partial refund"] += o["financial_status"] == "partially_refunded"
        traps["cancelled voided"] += o["financial_status"] == "voided"
        traps["cancelled refunded"] += (
            bool(o["cancelled_at"]) and o["financial_status"] == "refunded"
        )
        traps["test"] += o["test"]
        traps["pos without customer"] += (
            o["source_name"] == "pos" and o["customer"] is None and o["email"] == ""
        )
        traps["sku null"] += any(i["sku"] is None for i in items)
        traps["sku blank"] += any(i["sku"] == "" for i in items)
        traps["custom item"] += any(i["product_id"] is None and i["vendor"] is None for i in items)
        traps["deleted product"] += any(i["product_id"] is None and i["sku"] for i in items)
        traps["several codes"] += len(o["discount_codes"]) > 1
        traps["awc attribute"] += "awc" in attributes
        traps["awc only in landing_site"] += (
            "awc=" in (o["landing_site"] or "") and "awc" not in attributes
        )
        traps["no click id"] += not attributes.keys() & {"awc", "iclid"} and "awc=" not in (
            o["landing_site"] or ""
        )
        traps["emoji"] += any(ord(c) > 0x1F000 for a in attributes.values() for c in a)
        traps["japanese"] += any("\u3040" <= c <= "\u30ff" for v in attributes.values() for c in v)
        traps["umlaut"] += any(c in "äöüÄÖÜß" for i in items for c in i["title"])
        traps["failed refund transaction"] += any(
            t["status"] == "failure" for r in o["refunds"] for t in r["transactions"]
        )
        traps["taxes excluded"] += not o["taxes_included"]
        traps["shipping refund"] += any(
            a["kind"] == "shipping_refund" for r in o["refunds"] for a in r["order_adjustments"]
        )
        if o["client_details"]:
            agents.add(
                (
                    "Mobile" in o["client_details"]["user_agent"],
                    "iPad" in o["client_details"]["user_agent"],
                )
            )
    missing = [
        trap
        for trap in (
            "presentment differs",
            "CHF",
            "GBP",
            "partial refund",
            "cancelled voided",
            "cancelled refunded",
            "test",
            "pos without customer",
            "sku null",
            "sku blank",
            "custom item",
            "deleted product",
            "several codes",
            "awc attribute",
            "awc only in landing_site",
            "no click id",
            "emoji",
            "japanese",
            "umlaut",
            "failed refund transaction",
            "taxes excluded",
            "shipping refund",
        )
        if not traps[trap]
    ]
    assert missing == []
    assert agents >= {(True, False), (False, False), (True, True)}  # phone, desktop, tablet


def test_products_variants_and_skus(
    shop: ShopifySandbox, data: ShopData, all_orders: list[dict[str, Any]]
) -> None:
    with client(shop) as http:
        pages = follow(http, f"{API}/products.json", {"limit": 15})
        single = http.get(f"{API}/products/{data.products[3]['id']}.json").json()
        count = http.get(f"{API}/products/count.json").json()
    products = [p for r in pages for p in r.json()["products"]]
    assert len(pages) == 3 and products == list(data.products) and count == {"count": 40}
    assert single == {"product": data.products[3]}
    variants = [v for p in products for v in p["variants"]]
    skus = Counter(v["sku"] for v in variants)
    assert skus[None] >= 1 and skus[""] == 1
    assert any(n > 1 for sku, n in skus.items() if sku)  # SKUs are not unique
    for v in variants:
        assert MONEY.match(v["price"]) and v["admin_graphql_api_id"].endswith(str(v["id"]))
        if v["barcode"]:
            digits = [int(c) for c in v["barcode"]]
            assert (
                len(digits) == 13
                and sum(d * (3 if n % 2 else 1) for n, d in enumerate(digits)) % 10 == 0
            )
    by_variant = {v["id"]: v for v in variants}
    for order in all_orders:
        for item in order["line_items"]:
            if item["variant_id"] is not None:
                variant = by_variant[item["variant_id"]]
                assert item["sku"] == variant["sku"] and item["product_id"] == variant["product_id"]
                assert item["price"] == variant["price"]


def test_customers_page_and_add_up(
    shop: ShopifySandbox, data: ShopData, all_orders: list[dict[str, Any]]
) -> None:
    placed: dict[int, list[dict[str, Any]]] = {}
    for order in all_orders:
        if order["customer"] is not None:
            placed.setdefault(order["customer"]["id"], []).append(order)
    with client(shop) as http:
        pages = follow(http, f"{API}/customers.json", {"limit": 100})
        count = http.get(f"{API}/customers/count.json").json()
    customers = [c for r in pages for c in r.json()["customers"]]
    assert [c["id"] for c in customers] == sorted(placed) and count == {"count": len(placed)}
    returning = 0
    for customer in customers:
        orders = placed[customer["id"]]
        returning += len(orders) > 1
        assert customer["orders_count"] == len(orders)
        assert customer["last_order_id"] == orders[-1]["id"]
        spent = sum(
            cents(o["current_total_price"])
            for o in orders
            if not o["test"] and not o["cancelled_at"]
        )
        assert cents(customer["total_spent"]) == spent
        assert instant(customer["created_at"]) <= instant(orders[0]["created_at"])
    assert returning > 10


# --------------------------------------------------------------------------- discounts


def rule_body(**changes: Any) -> dict[str, Any]:
    rule = {
        "title": "COOP-BERGBLOG-10",
        "target_type": "line_item",
        "target_selection": "all",
        "allocation_method": "across",
        "value_type": "percentage",
        "value": "-10.0",
        "customer_selection": "all",
        "starts_at": "2025-04-01T00:00:00Z",
    }
    rule.update(changes)
    return {"price_rule": {k: v for k, v in rule.items() if v is not None}}


def test_price_rules_and_discount_codes_are_created_and_looked_up() -> None:
    with ShopifySandbox(orders=1, token=TOKEN) as shop, client(shop) as http:
        created = http.post(f"{API}/price_rules.json", json=rule_body(value=-15))
        assert created.status_code == 201, created.text
        rule = created.json()["price_rule"]
        assert rule["value"] == "-15.0" and rule["starts_at"] == "2025-04-01T02:00:00+02:00"
        assert rule["admin_graphql_api_id"] == f"gid://shopify/PriceRule/{rule['id']}"
        assert rule["entitled_product_ids"] == [] and rule["once_per_customer"] is False
        assert http.get(f"{API}/price_rules/{rule['id']}.json").json() == {"price_rule": rule}
        assert http.get(f"{API}/price_rules.json").json() == {"price_rules": [rule]}

        made = http.post(
            f"{API}/price_rules/{rule['id']}/discount_codes.json",
            json={"discount_code": {"code": "BergBlog10"}},
        )
        assert made.status_code == 201
        code = made.json()["discount_code"]
        assert {k: code[k] for k in ("price_rule_id", "code", "usage_count")} == {
            "price_rule_id": rule["id"],
            "code": "BergBlog10",
            "usage_count": 0,
        }
        again = http.post(
            f"{API}/price_rules/{rule['id']}/discount_codes.json",
            json={"discount_code": {"code": "BERGBLOG10"}},
        )
        assert again.status_code == 422
        assert again.json() == {
            "errors": {"code": ["must be unique. Please try a different code."]}
        }
        listed = http.get(f"{API}/price_rules/{rule['id']}/discount_codes.json").json()
        assert listed == {"discount_codes": [code]}

        found = http.get(f"{API}/discount_codes/lookup.json", params={"code": "bergblog10"})
        assert found.status_code == 303
        location = found.headers["Location"]
        assert (
            location == f"{shop.url}{API}/price_rules/{rule['id']}/discount_codes/{code['id']}.json"
        )
        assert http.get(location).json() == {"discount_code": code}
        followed = http.get(
            f"{API}/discount_codes/lookup.json",
            params={"code": "BERGBLOG10"},
            follow_redirects=True,
        )
        assert followed.json() == {"discount_code": code}
        missing = http.get(f"{API}/discount_codes/lookup.json", params={"code": "NOPE"})
        assert missing.status_code == 404 and missing.json() == {"errors": "Not Found"}
        assert (
            http.post(
                f"{API}/price_rules/999/discount_codes.json", json={"discount_code": {"code": "X"}}
            ).status_code
            == 404
        )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": None}, "title", "can't be blank"),
        ({"starts_at": None}, "starts_at", "can't be blank"),
        ({"value": "10.0"}, "value", "must be less than 0"),
        (
            {"value_type": "bogo"},
            "value_type",
            "is not included in the list: percentage, fixed_amount",
        ),
        ({"ends_at": "2025-03-01T00:00:00Z"}, "ends_at", "must be after starts_at"),
    ],
)
def test_invalid_price_rules_are_422(changes: dict[str, Any], field: str, message: str) -> None:
    with ShopifySandbox(orders=1, token=TOKEN) as shop, client(shop) as http:
        response = http.post(f"{API}/price_rules.json", json=rule_body(**changes))
        assert response.status_code == 422
        assert response.json()["errors"][field] == [message]
        assert http.get(f"{API}/price_rules.json").json() == {"price_rules": []}


def test_the_discount_destination_runs_idempotently_against_the_sandbox() -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    def offer(code: str, percent: str) -> dict[str, Any]:
        return {
            "id": f"offer-{code}",
            "tenant": "nordlicht",
            "source": "awin",
            "connection": "awin",
            "external_id": code,
            "source_updated_at": now,
            "synced_at": now,
            "extra": {},
            "name": f"Co-op {code}",
            "kind": "coop",
            "voucher_code": code,
            "status": "active",
            "commission_rules": [
                {"kind": "shopper_discount", "type": "percentage", "value": percent}
            ],
            "valid_from": now + timedelta(days=30),
            "valid_to": now + timedelta(days=90),
        }

    with ShopifySandbox(orders=1, token=TOKEN) as shop:
        settings = ShopifyDiscountSettings(shop=shop.shop, access_token=TOKEN, base_url=shop.url)
        destination = ShopifyDiscountDestination(settings)
        try:
            first = destination.write([offer("BERGBLOG15", "15"), offer("Sommer-Coop", "10")])
            second = destination.write([offer("BERGBLOG15", "15"), offer("Sommer-Coop", "10")])
            third = destination.write([offer("bergblog15", "20")])
        finally:
            destination.close()
        rules = shop.discounts.list_rules()
    assert (first.created, second.created, second.unchanged, third.updated) == (2, 0, 2, 1)
    assert sorted((r["title"], r["value"]) for r in rules) == [
        ("BERGBLOG15", "-20.0"),
        ("Sommer-Coop", "-10.0"),
    ]
    assert {link.price_rule_id for link in first.links.values()} == {r["id"] for r in rules}


# --------------------------------------------------------------------------- command line


def test_shop_time_matches_the_berlin_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    for ts in range(start, start + 2 * 366 * 86_400, 3_607):
        assert shop_time(ts) == datetime.fromtimestamp(ts, berlin).isoformat()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_serves_until_a_signal(signum: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.shopify.sandbox",
            "--port",
            "0",
            "--orders",
            "30",
            "--token",
            "tok",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), first
        response = httpx.get(
            f"{url}{API}/orders/count.json?status=any", headers={"X-Shopify-Access-Token": "tok"}
        )
        assert response.json() == {"count": 30}
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out
    started = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}{API}/shop.json", timeout=2)
    assert time.monotonic() - started < 2
