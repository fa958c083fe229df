"""TenantReader: every answer holds the bound tenant's rows, runs, quarantine and cursors only.

Two tenants get rows with the same external ids (so the same source data),
runs, quarantine entries and cursors; each reader must return exactly the
expectations built here from what was written, never the other tenant's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

import hub.reader as reader_module
from hub.config import HubConfig
from hub.errors import ConfigError, HubError
from hub.history import (
    Quarantined,
    RunCounts,
    RunStatus,
    add_to_quarantine,
    finish_run,
    resolve_quarantined,
    start_run,
)
from hub.reader import TenantReader
from hub.schema import ConversionItemRow, ConversionRow, PartnerRow, make_id
from hub.state import save_state
from hub.store import Store

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
TENANTS = ("alpen", "nord")
#: tenant -> its connections (a shop and a network each)
CONNECTIONS = {"alpen": ("alpen-shop", "alpen-awin"), "nord": ("nord-shop", "nord-awin")}
ORDERS = 7  # per tenant and shop connection; external ids 1000..1006 for both tenants


def conversion(tenant: str, connection: str, source: str, external_id: str) -> dict[str, Any]:
    return ConversionRow(
        id=make_id(tenant, source, "conversion", external_id),
        tenant=tenant,
        source=source,
        connection=connection,
        external_id=external_id,
        source_updated_at=T0,
        synced_at=T0,
        order_ref=f"#{external_id}",
        amount=Decimal(f"{len(tenant)}.{external_id[-2:]}"),  # differs between the tenants
        currency="EUR",
    ).model_dump()


def item(parent: dict[str, Any], line: str) -> dict[str, Any]:
    return ConversionItemRow(
        id=make_id(parent["tenant"], parent["source"], "conversion_item", f"{parent['id']}:{line}"),
        tenant=parent["tenant"],
        source=parent["source"],
        connection=parent["connection"],
        external_id=f"{parent['external_id']}:{line}",
        synced_at=T0,
        conversion_id=parent["id"],
        line_ref=line,
        amount=Decimal("1.00"),
        currency="EUR",
    ).model_dump()


def partner(tenant: str, connection: str, external_id: str) -> dict[str, Any]:
    return PartnerRow(
        id=make_id(tenant, "awin", "partner", external_id),
        tenant=tenant,
        source="awin",
        connection=connection,
        external_id=external_id,
        synced_at=T0,
        name=f"Publisher {external_id} of {tenant}",
    ).model_dump()


@pytest.fixture
def written(store: Store) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Rows, runs, quarantine and cursors of both tenants; returns tenant -> entity -> rows."""
    by_tenant: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with store.transaction() as db:
        for tenant in TENANTS:
            shop, network = CONNECTIONS[tenant]
            conversions = [
                conversion(tenant, shop, "shopify", str(1000 + n)) for n in range(ORDERS)
            ]
            conversions += [conversion(tenant, network, "awin", "555")]
            items = [item(c, line) for c in conversions[:3] for line in ("a", "b")]
            partners = [partner(tenant, network, str(300400 + n)) for n in range(3)]
            store.upsert(db, "conversion", conversions)
            store.upsert(db, "conversion_item", items)
            store.upsert(db, "partner", partners)
            by_tenant[tenant] = {
                "conversion": conversions,
                "conversion_item": items,
                "partner": partners,
            }
            for name in (shop, network):
                run_id = start_run(
                    db, name=name, tenant=tenant, connector=name.split("-")[1], full_refresh=False
                )
                finish_run(db, run_id, RunStatus.SUCCEEDED, RunCounts())
                save_state(db, name, "orders", {"cursor": f"{tenant}-{name}"})
                add_to_quarantine(
                    db,
                    [Quarantined("orders", {"id": 1, "who": tenant}, f"bad record of {tenant}")],
                    run_id=run_id,
                    name=name,
                    tenant=tenant,
                    source=name.split("-")[1],
                )
    return by_tenant


def ids(rows: Any) -> list[str]:
    return [row["id"] for row in rows]


@pytest.mark.parametrize("tenant", TENANTS)
def test_rows_are_the_tenants_own_in_id_order_and_nothing_of_the_other(
    store: Store, written: dict[str, Any], tenant: str
) -> None:
    reader = TenantReader(store, tenant)
    other = next(t for t in TENANTS if t != tenant)
    theirs = {row["id"] for entity in written[other].values() for row in entity}
    for entity, rows in written[tenant].items():
        got = list(reader.rows(entity))
        assert ids(got) == sorted(ids(rows))
        assert {row["tenant"] for row in got} == {tenant}
        assert not theirs & set(ids(got))
        assert reader.count(entity) == len(rows)
    # the same source ids for both tenants, never the same row ids
    mine = {row["external_id"] for row in written[tenant]["conversion"]}
    assert mine == {row["external_id"] for row in written[other]["conversion"]}
    assert reader.count("sku") == 0 and list(reader.rows("click")) == []


def test_filters_narrow_within_the_tenant_and_never_reach_another(
    store: Store, written: dict[str, Any]
) -> None:
    reader = TenantReader(store, "alpen")
    shop_rows = [r for r in written["alpen"]["conversion"] if r["connection"] == "alpen-shop"]
    assert ids(reader.rows("conversion", connection="alpen-shop")) == sorted(ids(shop_rows))
    assert reader.count("conversion", source="awin") == 1
    # another tenant's connection, or a where on tenant, gives nothing rather than its rows
    assert list(reader.rows("conversion", connection="nord-shop")) == []
    assert reader.count("conversion", where={"tenant": "nord"}) == 0
    parent = written["alpen"]["conversion"][0]
    lines = list(reader.rows("conversion_item", where={"conversion_id": parent["id"]}))
    assert sorted(r["line_ref"] for r in lines) == ["a", "b"]
    foreign_parent = written["nord"]["conversion"][0]["id"]
    assert reader.count("conversion_item", where={"conversion_id": foreign_parent}) == 0
    assert reader.count("conversion", where={"order_ref": None}) == 0


def test_get_returns_none_for_another_tenants_row_id(store: Store, written: dict[str, Any]) -> None:
    mine = written["alpen"]["conversion"][2]
    theirs = written["nord"]["conversion"][2]
    reader = TenantReader(store, "alpen")
    got = reader.get("conversion", mine["id"])
    assert got is not None and got["amount"] == mine["amount"] and got["tenant"] == "alpen"
    assert reader.get("conversion", theirs["id"]) is None
    assert TenantReader(store, "nord").get("conversion", theirs["id"]) is not None


def test_rows_page_through_large_tables_and_stop_at_the_limit(
    store: Store, written: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "PAGE_SIZE", 3)  # 8 rows: pages of 3, 3, 2
    reader = TenantReader(store, "nord")
    expected = sorted(ids(written["nord"]["conversion"]))
    assert ids(reader.rows("conversion")) == expected
    assert ids(reader.rows("conversion", limit=5)) == expected[:5]
    assert ids(reader.rows("conversion", limit=6)) == expected[:6]
    assert list(reader.rows("conversion", limit=0)) == []
    with pytest.raises(HubError, match="limit must be 0 or more"):
        list(reader.rows("conversion", limit=-1))


def test_runs_quarantine_and_cursors_are_the_tenants_own(
    store: Store, written: dict[str, Any]
) -> None:
    for tenant in TENANTS:
        reader = TenantReader(store, tenant, connections=CONNECTIONS[tenant])
        runs = reader.runs()
        assert {run["connection"] for run in runs} == set(CONNECTIONS[tenant])
        assert {run["tenant"] for run in runs} == {tenant}
        assert [run["id"] for run in runs] == sorted((run["id"] for run in runs), reverse=True)
        entries = reader.quarantine()
        assert sorted(e["connection"] for e in entries) == sorted(CONNECTIONS[tenant])
        assert {e["record"]["who"] for e in entries} == {tenant}
        assert reader.quarantine_count() == 2
        assert reader.quarantine_count(connection=CONNECTIONS[tenant][0]) == 1
        assert reader.states() == {
            name: {"orders": {"cursor": f"{tenant}-{name}"}} for name in CONNECTIONS[tenant]
        }
    alpen = TenantReader(store, "alpen", connections=CONNECTIONS["alpen"])
    assert alpen.runs(connection="nord-shop") == []
    assert alpen.quarantine(connection="nord-shop") == []
    assert alpen.quarantine_count(connection="nord-shop") == 0
    assert alpen.states(connection="nord-shop") == {}
    # a resolved entry leaves the open list but not the full one
    (first, *_) = alpen.quarantine()
    with store.transaction() as db:
        resolve_quarantined(db, [first["id"]])
    assert alpen.quarantine_count() == 1
    assert len(alpen.quarantine(include_resolved=True)) == 2


def test_a_reader_without_connections_reads_no_cursors(
    store: Store, written: dict[str, Any]
) -> None:
    assert TenantReader(store, "alpen").states() == {}


def test_from_config_takes_the_tenants_connections_and_refuses_an_unknown_tenant(
    store: Store,
) -> None:
    hub = HubConfig.model_validate(
        {
            "tenants": {"alpen": {}, "nord": {}},
            "connections": {
                name: {"connector": "rest", "tenant": tenant}
                for tenant, names in CONNECTIONS.items()
                for name in names
            },
        }
    )
    reader = TenantReader.from_config(hub, store, "nord")
    assert reader.connections == tuple(sorted(CONNECTIONS["nord"]))
    with pytest.raises(ConfigError) as caught:
        TenantReader.from_config(hub, store, "alpne")
    text = str(caught.value)
    assert "no tenant is called 'alpne'" in text and "did you mean 'alpen'?" in text


def test_unknown_entities_and_columns_are_named_with_the_choices(store: Store) -> None:
    reader = TenantReader(store, "alpen")
    with pytest.raises(HubError) as entity:
        reader.count("conversions")
    assert "did you mean 'conversion'?" in str(entity.value)
    with pytest.raises(HubError) as column:
        list(reader.rows("conversion", where={"ammount": 1}))
    assert "did you mean 'amount'?" in str(column.value)
    with pytest.raises(HubError, match="needs a tenant"):
        TenantReader(store, "")


def test_amounts_come_back_exact(store: Store, written: dict[str, Any]) -> None:
    stored = {r["id"]: r["amount"] for r in TenantReader(store, "nord").rows("conversion")}
    assert stored == {r["id"]: r["amount"] for r in written["nord"]["conversion"]}
    assert all(isinstance(amount, Decimal) for amount in stored.values())
