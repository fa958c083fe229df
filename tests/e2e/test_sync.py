"""`hub sync` end to end: the real command against a local fake API, then SQL on the result."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.e2e.support import TOKEN, query, run_hub, write_config
from tests.fakes.paged_api import FakeApi, make_orders


def test_sync_stores_every_order_item_and_partner(tmp_path: Path, hub_database: str) -> None:
    with FakeApi(orders=40, token=TOKEN) as api:
        config = write_config(tmp_path, api.url, database=hub_database)
        result = run_hub(config, "sync")
    assert "succeeded" in result.stdout
    database = hub_database
    expected = make_orders(40)
    assert query(database, "select count(*) from conversion") == [(40,)]
    assert query(database, "select count(*) from conversion_item") == [
        (sum(len(o["items"]) for o in expected),)
    ]
    assert query(database, "select count(*) from partner") == [(7,)]
    sums: dict[str, Decimal] = {}
    for order in expected:
        sums[order["currency"]] = sums.get(order["currency"], Decimal(0)) + Decimal(order["total"])
    amounts = query(database, "select currency, amount from conversion")
    assert {c for c, _ in amounts} == set(sums)
    for currency, total in sums.items():
        assert sum(Decimal(str(a)) for c, a in amounts if c == currency) == total
    assert query(database, "select count(*) from conversion_item where sku is null") == [
        (sum(1 for o in expected for it in o["items"] if it["sku"] is None),)
    ]
    assert query(
        database, "select status, count(*) from conversion group by status order by 1"
    ) == [
        ("approved", 14),
        ("cancelled", 13),
        ("pending", 13),
    ]
    assert query(database, "select tenant, count(*) from conversion group by tenant") == [
        ("acme", 40)
    ]
    (run,) = query(database, "select status, error from sync_run")
    assert run == ("succeeded", None)


def test_a_second_sync_only_asks_from_the_saved_cursor(tmp_path: Path, hub_database: str) -> None:
    with FakeApi(orders=20, token=TOKEN) as api:
        config = write_config(tmp_path, api.url, database=hub_database, page_size=50)
        run_hub(config, "sync")
        first = list(api.requests)
        run_hub(config, "sync")
        second = api.requests[len(first) :]
    assert len(first) == 1 and "updated_since" not in first[0]
    assert len(second) == 1 and "updated_since=2025-03-01T00%3A19%3A30%2B00%3A00" in second[0]
    state = run_hub(config, "state", "show", "acme-orders").stdout
    assert "2025-03-01T00:19:30+00:00" in state


def test_bad_credentials_fail_the_run_without_printing_the_token(
    tmp_path: Path, hub_database: str
) -> None:
    with FakeApi(orders=5, token="the-server-wants-another-token") as api:
        config = write_config(tmp_path, api.url, database=hub_database)
        result = run_hub(config, "sync", check=False)
        runs = run_hub(config, "runs").stdout
    assert result.returncode == 1
    assert "401" in result.stdout + result.stderr
    for output in (result.stdout, result.stderr, runs):
        assert TOKEN not in output
    (row,) = query(hub_database, "select status, error from sync_run")
    assert row[0] == "failed" and TOKEN not in str(row[1])


def test_debug_logs_show_every_request_but_never_the_token(
    tmp_path: Path, hub_database: str
) -> None:
    with FakeApi(orders=15, token=TOKEN) as api:
        config = write_config(tmp_path, api.url, database=hub_database)
        result = run_hub(config, "--debug", "sync")
    assert "hub.http" in result.stderr and "GET" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    (errors,) = query(hub_database, "select count(*) from sync_run where error is not null")
    assert errors == (0,)
