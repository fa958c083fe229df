"""The sync benchmark's fake Shopify behaves like Shopify's REST orders endpoint (apis.md 1.4-1.7).

The benchmark's figures are only worth something if every contender talks to
an API with Shopify's rules: paging by an opaque ``page_info`` in an absolute
``Link`` URL, filters refused next to ``page_info``, the token required, 429
with ``Retry-After``, and data a loader can be checked against.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fake_shopify  # noqa: E402
from fake_shopify import DEFAULT_TOKEN, FakeShopify  # noqa: E402

ORDERS = "/admin/api/2025-01/orders.json"
SEED = 7


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShopify]:
    with FakeShopify(620, SEED) as server:
        yield server


@pytest.fixture
def client(shop: FakeShopify) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=shop.url, headers={"X-Shopify-Access-Token": DEFAULT_TOKEN}, timeout=30
    ) as c:
        yield c


def _walk(client: httpx.Client, params: dict[str, Any]) -> list[httpx.Response]:
    responses = [client.get(ORDERS, params=params)]
    while "next" in responses[-1].links:
        responses.append(client.get(responses[-1].links["next"]["url"]))
    return responses


def _orders(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()["orders"]
    return orders


def test_link_header_has_shopify_format_absolute_urls_and_only_limit_and_page_info(
    shop: FakeShopify, client: httpx.Client
) -> None:
    pages = _walk(client, {"status": "any", "limit": 250, "order": "updated_at asc"})
    assert [len(_orders(p)) for p in pages] == [250, 250, 120]
    first, middle, last = (p.headers["Link"] for p in pages)
    # first page: next only; middle: previous then next; last: previous only
    assert first.startswith(f"<{shop.url}{ORDERS}?limit=250&page_info=")
    assert first.endswith('>; rel="next"') and 'rel="previous"' not in first
    previous, following = middle.split(", ")
    assert previous.endswith('>; rel="previous"') and following.endswith('>; rel="next"')
    assert last.endswith('>; rel="previous"') and 'rel="next"' not in last
    for url in (pages[0].links["next"]["url"], pages[1].links["previous"]["url"]):
        query = parse_qs(urlsplit(url).query)
        assert set(query) == {"limit", "page_info"}
        assert query["page_info"][0].startswith("eyJ")  # base64 of a JSON cursor, like Shopify's


def test_previous_link_goes_back_to_the_page_before(client: httpx.Client) -> None:
    pages = _walk(client, {"status": "any", "limit": 250})
    back = client.get(pages[2].links["previous"]["url"])
    assert [o["id"] for o in _orders(back)] == [o["id"] for o in _orders(pages[1])]


def test_one_page_result_has_no_link_header(client: httpx.Client) -> None:
    response = client.get(ORDERS, params={"status": "any", "limit": 250, "since_id": 6123400000600})
    assert len(_orders(response)) == 19
    assert "Link" not in response.headers


def test_page_info_with_a_filter_is_refused(client: httpx.Client) -> None:
    first = client.get(ORDERS, params={"status": "any", "limit": 100})
    url = first.links["next"]["url"]
    for extra in ("status=any", "updated_at_min=2025-01-01", "order=id+asc"):
        refused = client.get(f"{url}&{extra}")
        assert refused.status_code == 400
        assert "page_info" in refused.json()["errors"]
    assert client.get(url.replace("limit=100", "limit=10")).status_code == 200  # limit may change
    garbage = client.get(ORDERS, params={"page_info": "not-a-cursor"})
    assert garbage.status_code == 400
    assert garbage.json() == {"errors": {"page_info": "Invalid value."}}


def test_limit_defaults_to_50_and_tops_out_at_250(client: httpx.Client) -> None:
    assert len(_orders(client.get(ORDERS, params={"status": "any"}))) == 50
    assert len(_orders(client.get(ORDERS, params={"status": "any", "limit": 250}))) == 250
    for bad in (0, 251, "x"):
        assert client.get(ORDERS, params={"limit": bad}).status_code == 400


def test_updated_at_min_is_inclusive_and_compared_as_an_instant(client: httpx.Client) -> None:
    target = fake_shopify.build_order(SEED, 600)
    stamp = str(target["updated_at"])  # shop offset, +01:00
    as_utc = datetime.fromisoformat(stamp).astimezone(fake_shopify.UTC).isoformat()
    for value in (stamp, as_utc, as_utc.replace("+00:00", "Z")):
        orders = _orders(
            client.get(
                ORDERS,
                params={
                    "status": "any",
                    "updated_at_min": value,
                    "order": "updated_at asc",
                    "limit": 250,
                },
            )
        )
        assert [o["id"] for o in orders] == [6123400000000 + i for i in range(600, 620)]


def test_updated_at_ascending_strictly_and_index_computed_without_scan() -> None:
    stamps = [fake_shopify.updated_ts(SEED, i) for i in range(3000)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    for i in (0, 1, 17, 2999):
        ts = stamps[i]
        assert fake_shopify.first_index_at_or_after(SEED, ts, 3000) == i
        assert fake_shopify.first_index_at_or_after(SEED, ts + 1, 3000) == i + 1
    assert fake_shopify.first_index_at_or_after(SEED, 0, 3000) == 0
    assert max(stamps) < fake_shopify.ANCHOR_TS  # all in the past of the fixed anchor


def test_status_filter_splits_orders_and_defaults_to_open(client: httpx.Client) -> None:
    counts = {}
    for status in ("open", "closed", "cancelled", "any"):
        counts[status] = sum(
            len(_orders(p)) for p in _walk(client, {"status": status, "limit": 250})
        )
    assert counts["open"] + counts["closed"] + counts["cancelled"] == counts["any"] == 620
    assert min(counts.values()) > 0
    default = sum(len(_orders(p)) for p in _walk(client, {"limit": 250}))
    assert default == counts["open"]
    cancelled = _orders(client.get(ORDERS, params={"status": "cancelled", "limit": 250}))
    assert all(o["cancelled_at"] for o in cancelled)


def test_token_is_required_with_shopifys_401_body(shop: FakeShopify) -> None:
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        response = httpx.get(shop.url + ORDERS, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }


def test_every_answer_carries_the_call_limit_header(client: httpx.Client) -> None:
    response = client.get(ORDERS, params={"status": "any", "limit": 1})
    used, size = response.headers["X-Shopify-Shop-Api-Call-Limit"].split("/")
    assert 0 <= int(used) < int(size)
    shop = client.get("/admin/api/2025-01/shop.json")
    assert shop.json()["shop"]["currency"] == "EUR"


def test_429_every_kth_request_with_retry_after_then_the_same_url_works() -> None:
    with (
        FakeShopify(10, SEED, inject_429_every=3, retry_after=2.5) as server,
        httpx.Client(headers={"X-Shopify-Access-Token": DEFAULT_TOKEN}) as c,
    ):
        statuses = [c.get(server.url + ORDERS, params={"status": "any"}) for _ in range(6)]
        assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429]
        throttled = statuses[2]
        assert throttled.headers["Retry-After"] == "2.5"
        assert throttled.json()["errors"].startswith("Exceeded 2 calls per second")
        stats = c.get(server.url + "/_bench/stats").json()
        assert stats["requests"] == 6 and stats["throttled"] == 2 and stats["orders"] == 40


def test_same_seed_same_bytes_other_seed_other_data(shop: FakeShopify) -> None:
    with FakeShopify(620, SEED) as twin, FakeShopify(620, SEED + 1) as other:
        params: dict[str, Any] = {"status": "any", "limit": 250}
        headers = {"X-Shopify-Access-Token": DEFAULT_TOKEN}
        bodies = [
            httpx.get(s.url + ORDERS, params=params, headers=headers).content
            for s in (shop, twin, other)
        ]
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_an_order_is_the_same_in_a_fresh_interpreter() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fake_shopify as f; "
        "sys.stdout.buffer.write(f.order_json(7, 12345))"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(BENCH)],
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    ).stdout
    assert fresh == fake_shopify.order_json(SEED, 12345)


def test_expected_totals_match_what_paging_yields(client: httpx.Client) -> None:
    ids: list[int] = []
    lines = quantity = 0
    for page in _walk(client, {"status": "any", "limit": 250, "order": "updated_at asc"}):
        for order in _orders(page):
            ids.append(int(order["id"]))
            items = order["line_items"]
            assert isinstance(items, list)
            lines += len(items)
            quantity += sum(item["quantity"] for item in items)
    assert len(set(ids)) == len(ids) == 620
    assert fake_shopify.expected_totals(620, SEED) == (620, lines, quantity)


def test_orders_look_like_rest_orders() -> None:
    orders = [fake_shopify.build_order(SEED, i) for i in range(400)]
    sizes = [len(fake_shopify.order_json(SEED, i)) for i in range(400)]
    assert 2000 <= sum(sizes) / len(sizes) <= 6000  # real-sized
    for o in orders:
        assert o["admin_graphql_api_id"] == f"gid://shopify/Order/{o['id']}"
        assert str(o["updated_at"]).endswith("+01:00")
        assert datetime.fromisoformat(str(o["created_at"])) < datetime.fromisoformat(
            str(o["updated_at"])
        )
        whole, cents = str(o["total_price"]).split(".")
        assert whole.isdigit() and len(cents) == 2
        assert 1 <= len(o["line_items"]) <= 5
        for item in o["line_items"]:
            assert {"id", "product_id", "variant_id", "sku", "quantity", "price"} <= set(item)
            assert {"price_set", "discount_allocations", "tax_lines"} <= set(item)
    assert any(a["name"] == "awc" for o in orders for a in o["note_attributes"])
    assert any(o["refunds"] for o in orders)
    assert any(o["customer"] is None for o in orders)  # POS orders
    assert any(o["presentment_currency"] != o["currency"] for o in orders)
    orjson.dumps(orders)  # plain JSON types only
