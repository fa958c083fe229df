"""`hub sync` of the Shopify connector against the local sandbox shop, then SQL on the result.

The expectations are computed from the sandbox's generator (``ShopData``: order
``i`` is a pure function of the seed), never read back from the server, so a
connector that drops, duplicates or mis-maps orders fails here.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from connectors.shopify.sandbox import ShopData, ShopifySandbox
from tests.conftest import BACKENDS, scratch_database
from tests.e2e.support import hub_command, json_value, query

TOKEN = "shpat_sandbox_e2e_0123456789abcdef"
ORDERS = 400
CLICK_NAMES = ("awc", "iclid")
SEED = 3


def write_config(directory: Path, sandbox: ShopifySandbox, database: str, **config: Any) -> Path:
    settings = {
        "shop": sandbox.shop,
        "access_token": "${SHOPIFY_SANDBOX_TOKEN}",
        "api_version": "2025-01",
        "start_date": "2024-01-01",  # products were last edited in 2024
        "base_url": sandbox.url,
        "lookback_minutes": 10,
        "page_size": 100,
        "click_ref_attributes": list(CLICK_NAMES),
        "order_ref": "order_number",
        "leak_rate": 40,
        **config,
    }
    hub_yaml = {
        "database": database,
        "tenants": {"nordlicht": {"name": "Nordlicht Outdoor"}},
        "connections": {
            "nordlicht-shop": {"connector": "shopify", "tenant": "nordlicht", "config": settings}
        },
    }
    path = directory / "hub.yaml"
    path.write_text(yaml.safe_dump(hub_yaml, sort_keys=False))
    return path


def sync(config: Path, token: str = TOKEN, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOPIFY_SANDBOX_TOKEN": token}
    env.pop("HUB_CONFIG", None)
    result = subprocess.run(
        hub_command(config, "sync"), env=env, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hub sync failed:\n{result.stdout}\n{result.stderr}")
    return result


# --------------------------------------------------------------------------- expectations


def expected_click_ref(order: dict[str, Any]) -> str | None:
    """The configured names, first among the cart attributes, then in landing_site's query."""
    for attribute in order["note_attributes"]:
        if attribute["name"] in CLICK_NAMES:
            return str(attribute["value"])
    landing = parse_qs(urlsplit(order["landing_site"] or "").query)
    for name in CLICK_NAMES:
        if landing.get(name):
            return landing[name][0]
    return None


def refunded_by_currency(order: dict[str, Any]) -> dict[str, Decimal]:
    """Money that went back: successful refund transactions, by transaction currency."""
    sums: dict[str, Decimal] = {}
    for refund in order["refunds"]:
        for t in refund["transactions"]:
            if t["kind"] == "refund" and t["status"] == "success":
                sums[t["currency"]] = sums.get(t["currency"], Decimal(0)) + Decimal(t["amount"])
    return sums


def blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def stored_instant(value: Any) -> datetime:
    """A timestamp as SQLite (naive UTC text) or PostgreSQL (aware) hands it back, aware."""
    stamp = datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def orders() -> list[dict[str, Any]]:
    return list(ShopData(SEED).orders(ORDERS))


Synced = tuple[str, ShopifySandbox, list[str], str]


@pytest.fixture(scope="module", params=BACKENDS)
def synced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Synced]:
    """One sync (with stray 429s) of the whole shop, then a second one with nothing new.

    Yields (database URL, sandbox, the second sync's order requests, backend).
    """
    directory = tmp_path_factory.mktemp("shopify")
    with (
        scratch_database(request.param, directory) as database,
        ShopifySandbox(
            orders=ORDERS, token=TOKEN, seed=SEED, inject_429_every=7, retry_after=0.05
        ) as sandbox,
    ):
        config = write_config(directory, sandbox, database)
        first = sync(config)
        assert "succeeded" in first.stdout, first.stdout
        requests_first = len(sandbox.requests)
        sync(config)
        again = [r.path for r in sandbox.requests[requests_first:] if "/orders" in r.path]
        yield database, sandbox, again, request.param


def test_every_order_line_item_and_variant_is_stored(
    synced: Synced, orders: list[dict[str, Any]]
) -> None:
    database, sandbox, _, _ = synced
    assert query(database, "select count(*) from conversion") == [(ORDERS,)]
    assert query(database, "select count(*) from conversion_item") == [
        (sum(len(o["line_items"]) for o in orders),)
    ]
    variants = [v for p in ShopData(SEED).products for v in p["variants"]]
    assert query(database, "select count(*) from sku") == [(len(variants),)]
    assert 429 in {r.status for r in sandbox.requests}  # the sync went through stray 429s
    (run,) = query(database, "select status, error from sync_run order by started_at limit 1")
    assert run == ("succeeded", None)


def test_money_sums_per_currency(synced: Synced, orders: list[dict[str, Any]]) -> None:
    database, _, _, _ = synced
    shop_total = sum(Decimal(o["total_price"]) for o in orders)
    presentment: Counter[str] = Counter()
    totals: dict[str, Decimal] = {}
    for o in orders:
        money = o["total_price_set"]["presentment_money"]
        totals[money["currency_code"]] = totals.get(money["currency_code"], Decimal(0)) + Decimal(
            money["amount"]
        )
        presentment[money["currency_code"]] += 1
    assert set(totals) == {"EUR", "CHF", "GBP"}
    rows = query(
        database,
        "select currency, amount, presentment_currency, presentment_amount from conversion",
    )
    assert {r[0] for r in rows} == {"EUR"}
    assert sum(Decimal(str(r[1])) for r in rows) == shop_total
    for currency, total in totals.items():
        assert sum(Decimal(str(r[3])) for r in rows if r[2] == currency) == total, currency
    items = query(database, "select currency, unit_price, quantity from conversion_item")
    assert {r[0] for r in items} == {"EUR"}
    assert sum(Decimal(str(r[1])) * r[2] for r in items) == sum(
        Decimal(o["total_line_items_price"]) for o in orders
    )


def test_refunds_statuses_and_test_orders(synced: Synced, orders: list[dict[str, Any]]) -> None:
    database, _, _, _ = synced
    rows = {
        r[0]: r[1:]
        for r in query(
            database, "select order_ref, status, is_test, refunded_amount, amount from conversion"
        )
    }
    assert set(rows) == {str(o["order_number"]) for o in orders}
    for o in orders:
        status, is_test, refunded, amount = rows[str(o["order_number"])]
        assert status == ("cancelled" if o["cancelled_at"] else "pending"), o["name"]
        assert bool(is_test) is o["test"], o["name"]
        # What refunds took off, in shop money: total_price - current_total_price. A
        # cancellation counts whole, even a voided authorisation that moved no money.
        taken = Decimal(o["total_price"]) - Decimal(o["current_total_price"])
        assert Decimal(str(refunded)) == taken, o["name"]
        back = refunded_by_currency(o)
        if o["financial_status"] == "partially_refunded" and o["presentment_currency"] == "EUR":
            assert taken == back["EUR"], o["name"]  # the money that went back, for EUR orders
        if o["financial_status"] == "voided":
            assert back == {} and taken == Decimal(str(amount)), o["name"]
    assert sum(1 for o in orders if o["cancelled_at"]) > 0 and sum(o["test"] for o in orders) > 0


def test_new_customers_and_countries(synced: Synced, orders: list[dict[str, Any]]) -> None:
    database, _, _, _ = synced
    rows = {
        r[0]: r[1:]
        for r in query(
            database, "select order_ref, customer_type, customer_ref, country from conversion"
        )
    }
    seen: set[int] = set()
    for o in orders:
        customer_type, customer_ref, country = rows[str(o["order_number"])]
        customer = o["customer"]
        first = customer is not None and customer["id"] not in seen
        assert customer_type == ("new" if first else "unknown"), o["name"]
        if customer is not None:
            seen.add(customer["id"])
            assert customer_ref and str(customer["id"]) not in customer_ref  # hashed
        address = o["billing_address"] or o["shipping_address"]
        assert country == (address["country_code"] if address else None), o["name"]
    types = Counter(r[0] for r in rows.values())
    assert types["new"] > 0 and types["unknown"] > types["new"] / 10


def test_skus_click_refs_and_voucher_codes(synced: Synced, orders: list[dict[str, Any]]) -> None:
    database, _, _, _ = synced
    items = query(database, "select line_ref, sku, quantity from conversion_item")
    by_line = {str(r[0]): r[1:] for r in items}
    for o in orders:
        for item in o["line_items"]:
            sku, quantity = by_line[str(item["id"])]
            assert sku == (None if blank(item["sku"]) else item["sku"]), item
            assert quantity == item["quantity"]
    conversions = {
        r[0]: r[1:]
        for r in query(database, "select order_ref, click_ref, voucher_codes from conversion")
    }
    clicks = 0
    for o in orders:
        click_ref, codes = conversions[str(o["order_number"])]
        assert click_ref == expected_click_ref(o), o["name"]
        clicks += click_ref is not None
        stored = json_value(codes)
        assert sorted(stored or []) == sorted(c["code"] for c in o["discount_codes"]), o["name"]
    assert 0 < clicks < ORDERS
    skus = {r[0] for r in query(database, "select sku from sku")}
    variant_skus = {v["sku"] for p in ShopData(SEED).products for v in p["variants"]}
    assert skus == {None if blank(s) else s for s in variant_skus}


def test_a_resync_reads_only_the_lookback_and_a_change_is_picked_up(
    synced: Synced, tmp_path: Path
) -> None:
    _, _, again, backend = synced
    assert 1 <= len(again) <= 2, again  # nothing new: one page from the cursor minus the lookback
    assert "updated_at_min" in again[0]
    with (
        scratch_database(backend, tmp_path) as database,
        ShopifySandbox(orders=60, token=TOKEN, seed=SEED) as sandbox,
    ):
        config = write_config(tmp_path, sandbox, database)
        sync(config)
        order_id = ShopData.order_id(17)
        touched = sandbox.touch(order_id)
        sync(config)
        assert query(database, "select count(*) from conversion") == [(60,)]
        (updated,) = query(
            database, "select source_updated_at from conversion where order_ref = '1018'"
        )
    assert stored_instant(updated[0]) == datetime.fromisoformat(touched)


def test_orders_updated_while_paging_are_stored_once_in_their_latest_version(
    tmp_path: Path, hub_database: str
) -> None:
    with ShopifySandbox(orders=250, token=TOKEN, seed=SEED, mutate_during_paging=True) as sandbox:
        config = write_config(tmp_path, sandbox, hub_database, page_size=40)
        sync(config)
        mutated = dict(sandbox.mutated)
    assert mutated
    database = hub_database
    assert query(database, "select count(*) from conversion") == [(250,)]
    for order_id, updated_at in mutated.items():
        ref = str(ShopData.order_index(order_id) + 1001)
        (row,) = query(
            database, "select source_updated_at from conversion where order_ref = :ref", ref=ref
        )
        assert stored_instant(row[0]) == datetime.fromisoformat(updated_at), ref


def test_a_wrong_token_fails_with_a_hint_and_never_prints_it(tmp_path: Path) -> None:
    with ShopifySandbox(orders=10, token="shpat_the_server_wants_another_one") as sandbox:
        config = write_config(tmp_path, sandbox, f"sqlite:///{tmp_path / 'hub.db'}")
        result = sync(config, check=False)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "401" in output and "access_token" in output
    assert TOKEN not in output
