"""Tenant isolation: every attempt to write, push or read across tenants, and what stops it.

Two tenants, ``alpen`` and ``nord``, each sync the *same* local Shopify shop
and the *same* Awin account (two connections each), so every source record,
external id and order number exists twice: the worst case for ids and
upserts. ``nord`` reads only orders and stamps a constant ``channel_source``
through a legitimate override, so its rows differ from ``alpen``'s.

What is tried, and what must hold:

- every row carries the tenant of the connection that produced it, and its id
  is ``make_id`` of that tenant (checked against the reference function);
- syncing one tenant, again and with a full refresh, leaves every row of the
  other byte for byte as it was (on SQLite and PostgreSQL);
- hostile mapping overrides and mapping files (envelope columns as fields or
  child keys, raw ids in reference columns, refs naming a tenant or
  connection) are refused at load with file, place and fix, and nothing is
  written; allowed tricks (``value:`` constants naming the other tenant's
  external ids, record fields called ``tenant``) write only the own tenant;
- destinations push only their tenant's rows (Awin S2S and GA4 Measurement
  Protocol dry runs, Shopify discounts, the default ``Destination.push``), and
  the marks written back land only on the tenant's rows;
- ``hub rows``, ``hub runs``, ``hub quarantine list`` with ``--tenant`` and
  :class:`hub.reader.TenantReader` show nothing of the other tenant; ``hub
  state`` and ``hub quarantine replay`` of a connection act on it alone.

Figures: ``tenant isolation: attacks tried`` counts the attack cases,
``tenant isolation: rows checked`` the rows whose tenant was verified, and
``rows of another tenant seen or written`` what leaked (the tests fail unless
it is 0).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

import hub.cli as cli_module
from connectors.awin.conversion_api import AwinConversionDestination
from connectors.awin.sandbox import AwinSandbox
from connectors.awin.validations import record_validations, resolve_targets
from connectors.ga4.measurement import GA4MeasurementDestination
from connectors.shopify.destination import ShopifyDiscountDestination, load_offers, push_offers
from connectors.shopify.sandbox import ShopifySandbox
from hub.cli import app
from hub.config import HubConfig, load_config
from hub.connector import Destination, Record, WriteResult
from hub.errors import InputFileError, MappingFileError
from hub.history import Quarantined, add_to_quarantine
from hub.mapping import Mappings, load_mappings
from hub.reader import TenantReader
from hub.runner import SyncRunner, normalize, open_connector
from hub.schema import ENTITIES, OfferKind, OfferRow, make_id
from hub.state import load_state
from hub.store import LINKS_KEY, Store
from tests.reliability.conftest import Figures

TENANTS = ("alpen", "nord")
OTHER = {"alpen": "nord", "nord": "alpen"}
NORD_CHANNEL = "nordlicht-feed"  # nord-shop's constant channel_source (a legitimate override)
OPERATIONAL = ("sync_run", "quarantine", "sync_state")

ATTACKS = "tenant isolation: attacks tried"
CHECKED = "tenant isolation: rows checked"
LEAKED = "rows of another tenant seen or written"
SHARED = "tenant isolation: source ids both tenants hold (id collision attempts)"


# -- the world: two tenants, the same shop and network each -----------------------------------


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(orders=40, rate_limit=False) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def awin() -> Iterator[AwinSandbox]:
    with AwinSandbox(transactions=30) as sandbox:
        yield sandbox


def constant(value: Any) -> dict[str, Any]:
    """An override replacing a shipped field (path, converter and args) by a constant."""
    return {"path": None, "convert": None, "args": None, "value": value}


def connections(
    shop: ShopifySandbox, awin: AwinSandbox, tenants: Iterable[str] = TENANTS
) -> dict[str, Any]:
    """Two connections per tenant: the same shop and the same Awin account for both tenants."""
    blocks: dict[str, Any] = {}
    for tenant in tenants:
        blocks[f"{tenant}-shop"] = {
            "connector": "shopify",
            "tenant": tenant,
            "config": {
                "shop": "alpenglueck",
                "access_token": shop.token,
                "start_date": "2024-01-01",
                "base_url": shop.url,
            },
        }
        blocks[f"{tenant}-awin"] = {
            "connector": "awin",
            "tenant": tenant,
            "config": {
                "api_token": awin.token,
                "account_type": "advertiser",
                "account_id": awin.account_id,
                "start_date": "2025-03-01",
                "timezone": "Europe/Berlin",
                "base_url": awin.url,
                "requests_per_minute": 60000,
            },
        }
    if "nord-shop" in blocks:
        blocks["nord-shop"]["streams"] = ["orders"]
        blocks["nord-shop"]["mapping_overrides"] = {
            "orders": {"fields": {"channel_source": constant(NORD_CHANNEL)}}
        }
    return blocks


def write_config(
    directory: Path,
    database: str,
    blocks: Mapping[str, Any],
    *,
    mappings: list[str] | None = None,
) -> Path:
    path = directory / "hub.yaml"
    document: dict[str, Any] = {
        "database": database,
        "tenants": {tenant: {"name": tenant.title()} for tenant in TENANTS},
        "connections": dict(blocks),
    }
    if mappings:
        document["mappings"] = mappings
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def open_store(hub: HubConfig) -> Store:
    store = Store(hub.database_url())
    store.create_all()
    return store


_MAPPINGS: list[Mappings] = []


def sync(hub: HubConfig, store: Store, names: Iterable[str], *, full_refresh: bool = False) -> None:
    # the shipped mappings are read once; a config's own mapping files need their own load
    if not _MAPPINGS:
        _MAPPINGS.append(load_mappings())
    runner = SyncRunner(hub, store, mappings=None if hub.mappings else _MAPPINGS[0])
    for name in names:
        result = runner.sync(name, full_refresh=full_refresh)
        assert result.ok, f"{name}: {result.error}"


def of(tenant: str) -> list[str]:
    return [f"{tenant}-shop", f"{tenant}-awin"]


@pytest.fixture(scope="module")
def synced(
    tmp_path_factory: pytest.TempPathFactory, shop: ShopifySandbox, awin: AwinSandbox
) -> Path:
    """A SQLite database with both tenants synced, made once; tests work on copies."""
    directory = tmp_path_factory.mktemp("both-tenants")
    database = directory / "hub.db"
    hub = load_config(write_config(directory, f"sqlite:///{database}", connections(shop, awin)))
    store = open_store(hub)
    sync(hub, store, [*of("alpen"), *of("nord")])
    store.dispose()  # the last connection closes: the WAL is folded into the file
    return database


@pytest.fixture
def world(
    tmp_path: Path, synced: Path, shop: ShopifySandbox, awin: AwinSandbox
) -> Iterator[tuple[HubConfig, Store]]:
    """Both tenants synced, in this test's own copy of the database."""
    shutil.copyfile(synced, tmp_path / "hub.db")
    hub = load_config(
        write_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", connections(shop, awin))
    )
    store = open_store(hub)
    yield hub, store
    store.dispose()


# -- looking at the database independently of the code under test ------------------------------


def all_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every canonical table, as stored."""
    found: dict[str, list[dict[str, Any]]] = {}
    with store.transaction() as db:
        for entity in ENTITIES:
            table = store.table(entity)
            found[entity] = [dict(r._mapping) for r in db.execute(select(table))]
    return found


def snapshot(store: Store, tenant: str | None = None) -> dict[str, dict[Any, dict[str, Any]]]:
    """Rows (of ``tenant``, or all) by table and primary key; with run history, quarantine and
    cursors when ``tenant`` is None. Every column, ``synced_at`` included: a row nobody
    touched is equal in every byte."""
    tables = {name: store.table(name) for name in ENTITIES}
    if tenant is None:
        tables.update({name: SQLModel.metadata.tables[name] for name in OPERATIONAL})
    found: dict[str, dict[Any, dict[str, Any]]] = {}
    with store.transaction() as db:
        for name, table in tables.items():
            query = select(table)
            if tenant is not None:
                query = query.where(table.c.tenant == tenant)
            key = [c.name for c in table.primary_key.columns]
            found[name] = {
                tuple(row._mapping[k] for k in key): dict(row._mapping) for row in db.execute(query)
            }
    return found


def size(found: Mapping[str, Mapping[Any, Any]]) -> int:
    return sum(len(rows) for rows in found.values())


def leaks(rows: Iterable[Mapping[str, Any]], tenant: str) -> int:
    """How many of ``rows`` are not ``tenant``'s."""
    return sum(1 for row in rows if row.get("tenant") != tenant)


# -- writing: every row is its connection's tenant's ----------------------------------------------


def test_each_tenants_sync_writes_its_own_rows_and_never_touches_the_others(
    database_url: str, tmp_path: Path, shop: ShopifySandbox, awin: AwinSandbox, figures: Figures
) -> None:
    """alpen syncs; nord syncs the same data, twice (insert, then update); alpen again."""
    hub = load_config(write_config(tmp_path, database_url, connections(shop, awin)))
    store = open_store(hub)
    try:
        sync(hub, store, of("alpen"))
        alpen = snapshot(store, "alpen")
        assert size(alpen) > 200
        sync(hub, store, of("nord"))
        sync(hub, store, of("nord"), full_refresh=True)
        nord = snapshot(store, "nord")
        assert size(nord) > 100
        after_nord = snapshot(store, "alpen")
        sync(hub, store, of("alpen"), full_refresh=True)
        after_alpen = snapshot(store, "nord")
        found = all_rows(store)
    finally:
        store.dispose()
    changed = sum(
        after_nord[entity].get(key) != row for entity in alpen for key, row in alpen[entity].items()
    )
    changed += size(after_nord) - size(alpen)  # no new alpen rows either
    changed += sum(
        after_alpen[entity].get(key) != row for entity in nord for key, row in nord[entity].items()
    )
    changed += size(after_alpen) - size(nord)

    wrong = 0
    shared = 0
    for entity, rows in found.items():
        by_key: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            owner = hub.connections[row["connection"]].tenant
            wrong += row["tenant"] != owner
            # the id is the reference function of the row's own envelope
            wrong += row["id"] != make_id(row["tenant"], row["source"], entity, row["external_id"])
            by_key.setdefault((row["source"], row["external_id"]), set()).add(row["tenant"])
        shared += sum(1 for tenants in by_key.values() if tenants == set(TENANTS))
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)), f"{entity}: two rows share an id"
        figures.add(CHECKED, len(rows))
    # the attack is real: the same source ids exist for both tenants, as different rows
    assert shared > 100
    nord_shop = [r for r in found["conversion"] if r["connection"] == "nord-shop"]
    assert nord_shop and {r["channel_source"] for r in nord_shop} == {NORD_CHANNEL}
    assert not any(r["tenant"] == "nord" for r in found["sku"])  # nord reads no products
    figures.add(ATTACKS, 3)  # three syncs of one tenant over the other's identical data
    figures.add(SHARED, shared)
    figures.add(LEAKED, wrong + changed)
    assert wrong == 0
    assert changed == 0


# -- hostile mappings: refused at load, nothing written -------------------------------------------

NORD_PARTNER = make_id("nord", "awin", "partner", "300401")
NORD_CONVERSION = make_id("nord", "shopify", "conversion", "1")


def _refused_overrides() -> list[tuple[str, dict[str, Any], str, str]]:
    """(name, override of alpen-shop's orders, location in hub.yaml, message) per attack."""
    where = "mapping_overrides.orders"
    envelope = [
        ("tenant", {"value": "nord"}),
        ("tenant", "note_attributes"),
        ("id", {"value": NORD_CONVERSION}),
        ("source", {"value": "awin"}),
        ("connection", {"value": "nord-shop"}),
        ("external_id", "id"),
        ("source_updated_at", "updated_at"),
        ("synced_at", {"value": "2030-01-01T00:00:00Z"}),
        ("extra", {"value": {"tenant": "nord"}}),
    ]
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (
            f"field {column} = {spec!r}",
            {"fields": {column: spec}},
            f"{where}.fields.{column}",
            f"'{column}' is an envelope column",
        )
        for column, spec in envelope
    ]
    cases += [
        (
            "child field tenant",
            {"children": {"conversion_item": {"fields": {"tenant": {"value": "nord"}}}}},
            f"{where}.children.0.fields.tenant",
            "'tenant' is an envelope column",
        ),
        (
            "child parent_field tenant",
            {"children": {"conversion_item": {"parent_field": "tenant"}}},
            f"{where}.children.0.parent_field",
            "parent_field 'tenant' is an envelope column",
        ),
        (
            "child parent_field id",
            {"children": {"conversion_item": {"parent_field": "id"}}},
            f"{where}.children.0.parent_field",
            "parent_field 'id' is an envelope column",
        ),
        (
            "new child writing tenant",
            {
                "children": {
                    "partner": {"external_id": {"value": "300401"}, "fields": {"tenant": "x"}}
                }
            },
            f"{where}.children.1.fields.tenant",
            "'tenant' is an envelope column",
        ),
        ("stream key tenant", {"tenant": "nord"}, f"{where}.tenant", "unknown key 'tenant'"),
        ("stream key source", {"source": "awin"}, f"{where}.source", "unknown key 'source'"),
        (
            "stream key connection",
            {"connection": "nord-shop"},
            f"{where}.connection",
            "unknown key 'connection'",
        ),
        ("stream key id", {"id": NORD_CONVERSION}, f"{where}.id", "unknown key 'id'"),
        (
            "raw partner id constant",
            {"fields": {"partner_id": {"value": NORD_PARTNER}}},
            f"{where}.fields.partner_id",
            "needs `ref: partner`",
        ),
        (
            "raw partner id from the record",
            {"fields": {"partner_id": "note"}},
            f"{where}.fields.partner_id",
            "needs `ref: partner`",
        ),
        (
            "raw offer id from a template",
            {"fields": {"offer_id": {"template": "{note}"}}},
            f"{where}.fields.offer_id",
            "needs `ref: offer`",
        ),
        (
            "child raw conversion id",
            {
                "children": {
                    "conversion_item": {
                        "parent_field": None,
                        "fields": {"conversion_id": {"value": NORD_CONVERSION}},
                    }
                }
            },
            f"{where}.children.0.fields.conversion_id",
            "needs `ref: conversion`",
        ),
        (
            "ref naming a tenant",
            {
                "fields": {
                    "partner_id": {"path": "note", "ref": {"entity": "partner", "tenant": "nord"}}
                }
            },
            f"{where}.fields.partner_id.ref.tenant",
            "a ref cannot name a tenant",
        ),
        (
            "ref naming a connection",
            {
                "fields": {
                    "partner_id": {
                        "path": "note",
                        "ref": {"entity": "partner", "source": "awin", "connection": "nord-awin"},
                    }
                }
            },
            f"{where}.fields.partner_id.ref.connection",
            "a ref cannot name a connection",
        ),
        (
            "ref to another entity",
            {"fields": {"partner_id": {"path": "note", "ref": "offer"}}},
            f"{where}.fields.partner_id",
            "`ref: offer` makes the id of a offer row",
        ),
    ]
    return cases


REFUSED = _refused_overrides()

HOSTILE_FILE = """\
source: shopify
version: 1
tenant: nord
streams:
  orders:
    entity: conversion
    external_id: id
    fields:
      tenant: {value: nord}
      id: {value: "%s"}
      partner_id: {path: note, ref: {entity: partner, tenant: nord}}
"""


def reported(text: str, location: str, message: str) -> bool:
    """Whether one problem line of ``text`` is at ``location`` and says ``message``."""
    return any(f": {location}: " in line and message in line for line in text.splitlines())


def test_hostile_overrides_and_mapping_files_are_refused_at_load_and_touch_nothing(
    world: tuple[HubConfig, Store],
    tmp_path: Path,
    shop: ShopifySandbox,
    awin: AwinSandbox,
    cli: CliRunner,
    figures: Figures,
) -> None:
    hub, store = world
    before = snapshot(store)
    failures: list[str] = []
    # one hostile connection of alpen per attack, all in one config
    blocks = connections(shop, awin)
    for number, (_, override, _, _) in enumerate(REFUSED):
        blocks[f"alpen-hostile-{number}"] = {
            **blocks["alpen-shop"],
            "mapping_overrides": {"orders": override},
        }
    config = write_config(tmp_path, hub.database, blocks)
    hostile = load_config(config)
    for number, (name, _, location, message) in enumerate(REFUSED):
        try:
            sync(hostile, store, [f"alpen-hostile-{number}"])
        except MappingFileError as exc:
            text = str(exc)
            if not text.startswith(f"1 problem:\n  {config}:") or "Fix:" not in text:
                failures.append(f"{name}: not one problem naming {config} with a fix: {text}")
            if not reported(text, location, message):
                failures.append(f"{name}: expected {location}: {message}, got {text}")
        else:
            failures.append(f"{name}: the sync ran")
        figures.add(ATTACKS)
    # `hub validate` reports every one of them at once, each with its place
    result = cli.invoke(app, ["--config", str(config), "validate"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {len(REFUSED)} problems:"), result.output
    for name, _, location, message in REFUSED:
        if not reported(result.output, location, message):
            failures.append(f"{name}: hub validate does not report {location}: {message}")

    # a hostile mapping file of the config: every envelope trick at once, each reported
    (tmp_path / "hostile.yaml").write_text(HOSTILE_FILE % NORD_CONVERSION)
    config = write_config(
        tmp_path, hub.database, connections(shop, awin), mappings=["hostile.yaml"]
    )
    with pytest.raises(MappingFileError) as caught:
        sync(load_config(config), store, ["alpen-shop"])
    text = str(caught.value)
    for expected in (
        "hostile.yaml:3: tenant: unknown top-level key 'tenant'",
        "streams.orders.fields.tenant: 'tenant' is an envelope column",
        "streams.orders.fields.id: 'id' is an envelope column",
        "streams.orders.fields.partner_id.ref.tenant: a ref cannot name a tenant",
    ):
        if expected not in text:
            failures.append(f"hostile file: {expected!r} missing from {text}")
    figures.add(ATTACKS, 4)

    after = snapshot(store)
    touched = sum(after[t].get(k) != row for t in before for k, row in before[t].items())
    touched += size(after) - size(before)
    figures.add(LEAKED, touched)
    assert not failures, "\n".join(failures)
    assert touched == 0


def test_allowed_tricks_write_only_the_own_tenant(
    world: tuple[HubConfig, Store],
    tmp_path: Path,
    shop: ShopifySandbox,
    awin: AwinSandbox,
    figures: Figures,
) -> None:
    """Constants naming the other tenant's external ids are data of the own tenant."""
    hub, store = world
    nord_before = snapshot(store, "nord")
    nord_partner = next(
        row for row in nord_before["partner"].values() if row["connection"] == "nord-awin"
    )
    blocks = connections(shop, awin)
    blocks["alpen-shop"]["mapping_overrides"] = {
        "orders": {
            "fields": {
                # point every order at "the" partner 300401... of alpen's own Awin connection
                "partner_id": {
                    "value": nord_partner["external_id"],
                    "ref": {"entity": "partner", "source": "awin"},
                },
                "channel_medium": constant("nord"),
            },
            # a new child overwriting "nord's" partner by its external id, as a full version
            "children": {
                "partner": {
                    "external_id": {"value": nord_partner["external_id"]},
                    "fields": {"name": {"value": "taken over"}},
                }
            },
        }
    }
    tricked = load_config(write_config(tmp_path, hub.database, blocks))
    sync(tricked, store, ["alpen-shop"], full_refresh=True)

    nord_after = snapshot(store, "nord")
    changed = sum(
        nord_after[t].get(k) != row for t in nord_before for k, row in nord_before[t].items()
    )
    changed += size(nord_after) - size(nord_before)
    rows = all_rows(store)
    mine = [r for r in rows["conversion"] if r["connection"] == "alpen-shop"]
    own_partner = make_id("alpen", "awin", "partner", nord_partner["external_id"])
    assert mine and {r["partner_id"] for r in mine} == {own_partner}
    assert nord_partner["id"] not in {
        r["partner_id"] for t in ("click", "conversion") for r in rows[t] if r["tenant"] == "alpen"
    }
    taken = [r for r in rows["partner"] if r["name"] == "taken over"]
    assert [(r["tenant"], r["source"], r["connection"]) for r in taken] == [
        ("alpen", "shopify", "alpen-shop")
    ]
    assert taken[0]["id"] == make_id("alpen", "shopify", "partner", nord_partner["external_id"])
    figures.add(ATTACKS, 2)
    figures.add(LEAKED, changed + leaks(taken, "alpen"))
    assert changed == 0


def test_record_fields_called_tenant_connection_or_id_are_only_data(
    world: tuple[HubConfig, Store], figures: Figures
) -> None:
    hub, _ = world
    record = a_shop_order(hub)
    mapping = load_mappings().compile("shopify", "orders")
    hostile = {
        **record,
        "tenant": "nord",
        "connection": "nord-shop",
        "source": "awin",
        "_hub": {**record["_hub"], "tenant": "nord"},
    }
    rows = normalize(
        mapping, hostile, tenant="alpen", connection="alpen-shop", synced_at=datetime.now(UTC)
    )
    assert len(rows) > 1
    for entity, row in rows:
        assert (row["tenant"], row["connection"], row["source"]) == (
            "alpen",
            "alpen-shop",
            "shopify",
        )
        assert row["id"] == make_id("alpen", "shopify", entity, row["external_id"])
    # the hostile keys are kept as data, where they cannot steer anything
    root = rows[0][1]
    assert root["extra"]["tenant"] == "nord" and root["extra"]["connection"] == "nord-shop"
    figures.add(ATTACKS)
    figures.add(LEAKED, leaks([row for _, row in rows], "alpen"))


# -- pushing: each tenant's own rows, and marks only on them -------------------------------------


def spy_on_writes(destination: Destination) -> list[dict[str, Any]]:
    """Rows the destination's ``write`` is given by ``push`` (the instance's write, wrapped)."""
    given: list[dict[str, Any]] = []
    original = destination.write

    def write(rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False) -> Any:
        def recorded() -> Iterator[Mapping[str, Any]]:
            for row in rows:
                given.append(dict(row))
                yield row

        return original(recorded(), dry_run=dry_run)

    destination.write = write  # type: ignore[method-assign]
    return given


def no_network() -> httpx.MockTransport:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a dry run sent {request.method} {request.url}")

    return httpx.MockTransport(refuse)


@pytest.fixture
def alpen_alone(
    tmp_path: Path, shop: ShopifySandbox, awin: AwinSandbox
) -> Iterator[tuple[HubConfig, Store]]:
    """alpen's connections alone in their own database: what a push of alpen should see."""
    directory = tmp_path / "alone"
    directory.mkdir()
    blocks = connections(shop, awin, tenants=["alpen"])
    hub = load_config(write_config(directory, f"sqlite:///{directory / 'hub.db'}", blocks))
    store = open_store(hub)
    sync(hub, store, of("alpen"))
    yield hub, store
    store.dispose()


def awin_destination(awin: AwinSandbox, now: datetime | None = None) -> AwinConversionDestination:
    config = AwinConversionDestination.config_model.model_validate(
        {
            "account_type": "advertiser",
            "account_id": awin.account_id,
            "s2s_api_key": awin.s2s_api_key,
            "base_url": awin.url,
            "max_age_days": 100_000,  # the sandbox shop's orders are from 2025
        }
    )
    return AwinConversionDestination(config, now=(lambda: now) if now else None)


def ga4_destination(now: datetime) -> GA4MeasurementDestination:
    config = GA4MeasurementDestination.config_model.model_validate(
        {
            "measurement_id": "G-TENANT42",
            "api_secret": "tenant-mp-secret-1234",
            "seen_sources": [],  # GA4 is not synced here; the dry run only plans
        }
    )
    return GA4MeasurementDestination(config, transport=no_network(), now=lambda: now)


def test_awin_and_ga4_dry_runs_push_only_the_tenants_rows(
    world: tuple[HubConfig, Store],
    alpen_alone: tuple[HubConfig, Store],
    awin: AwinSandbox,
    figures: Figures,
) -> None:
    _, store = world
    _, alone = alpen_alone
    with alone.transaction() as db:
        table = alone.table("conversion")
        latest = db.execute(
            select(func.max(table.c.occurred_at)).where(table.c.source == "shopify")
        ).scalar_one()
    now = latest + timedelta(hours=30)  # inside GA4's 72 hours, past the 24 settle hours
    seen = 0
    for tenant in TENANTS:
        for make in (lambda: awin_destination(awin), lambda: ga4_destination(now)):
            destination = make()
            given = spy_on_writes(destination)
            result = destination.push(store, tenant=tenant, dry_run=True)
            assert given, f"{destination.name}: nothing to push for {tenant}"
            seen += leaks(given, tenant)
            if tenant == "alpen":
                # the same plan as with alpen's data alone in the database
                reference = make()
                expected = reference.push(alone, tenant="alpen", dry_run=True)
                assert result.planned == expected.planned
                assert result.summary() == expected.summary()
            figures.add(ATTACKS)
            figures.add(CHECKED, len(given))
    figures.add(LEAKED, seen)
    assert seen == 0


def test_sent_marks_land_only_on_the_pushing_tenants_rows(
    world: tuple[HubConfig, Store], awin: AwinSandbox, figures: Figures
) -> None:
    _, store = world
    before = snapshot(store, "nord")
    destination = awin_destination(awin)
    given = spy_on_writes(destination)
    result = destination.push(store, tenant="alpen")
    assert result.sent > 0 and result.failed == 0, result.summary()
    rows = all_rows(store)
    marked = [r for r in rows["conversion"] if "awin_s2s" in (r["extra"].get(LINKS_KEY) or {})]
    assert {r["tenant"] for r in marked} == {"alpen"} and len(marked) == result.sent
    # validation outcomes are recorded by transaction id: the same ids exist for nord
    transactions = [
        int(r["external_id"]) for r in rows["conversion"] if r["connection"] == "alpen-awin"
    ][:5]
    at = datetime(2025, 6, 1, tzinfo=UTC)
    changed = record_validations(
        store, "alpen", {t: ("approve", "job-1", "done") for t in transactions}, at
    )
    assert changed == len(transactions)
    after = snapshot(store, "nord")
    touched = sum(after[t].get(k) != row for t in before for k, row in before[t].items())
    figures.add(ATTACKS, 2)
    figures.add(LEAKED, touched + leaks(given, "alpen") + leaks(marked, "alpen"))
    assert touched == 0


def test_awin_decisions_cannot_name_another_tenants_conversion(
    world: tuple[HubConfig, Store], awin: AwinSandbox, figures: Figures
) -> None:
    _, store = world
    theirs = list(TenantReader(store, "nord").rows("conversion", connection="nord-awin"))
    refs = [r["order_ref"] for r in theirs]
    target = next(r for r in theirs if r["order_ref"] and refs.count(r["order_ref"]) == 1)
    with pytest.raises(InputFileError) as caught:
        resolve_targets(
            store, "alpen", [{"action": "approve", "conversion_id": target["id"]}], awin.account_id
        )
    assert f"no stored Awin conversion {target['id']}" in str(caught.value)
    # the order number both tenants share resolves to the asking tenant's own transaction
    (resolved,) = resolve_targets(
        store, "alpen", [{"action": "approve", "order_ref": target["order_ref"]}], awin.account_id
    )
    own = TenantReader(store, "alpen").get(
        "conversion", make_id("alpen", "awin", "conversion", str(resolved["transaction_id"]))
    )
    assert own is not None and own["order_ref"] == target["order_ref"]
    figures.add(ATTACKS, 2)
    figures.add(LEAKED, 0)


def offer(tenant: str, code: str) -> dict[str, Any]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return OfferRow(
        id=make_id(tenant, "partners", "offer", code),
        tenant=tenant,
        source="partners",
        connection=f"{tenant}-shop",
        external_id=code,
        source_updated_at=datetime(2025, 5, 1, tzinfo=UTC),
        synced_at=datetime(2025, 5, 1, tzinfo=UTC),
        name=f"Co-op {code} of {tenant}",
        kind=OfferKind.COOP,
        commission_rules=[{"kind": "shopper_discount", "type": "percentage", "value": "10"}],
        voucher_code=code,
        valid_from=today - timedelta(days=1),
        valid_to=today + timedelta(days=90),
        status="active",
    ).model_dump()


def shopify_destination(shop: ShopifySandbox, name: str) -> ShopifyDiscountDestination:
    config = ShopifyDiscountDestination.config_model.model_validate(
        {"shop": name, "access_token": shop.token, "start_date": "2024-01-01", "base_url": shop.url}
    )
    return ShopifyDiscountDestination(config)


class ConversionSpy(Destination):
    """A destination using the default ``Destination.push``: it records what it is given."""

    name = "conversion-spy"
    config_model = HubConfig  # any model: the spy reads no settings
    entity = "conversion"

    def check(self) -> None:
        pass

    def write(self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False) -> WriteResult:
        self.given = [dict(row) for row in rows]
        return WriteResult(sent=len(self.given))


def test_shopify_discounts_and_the_default_push_read_only_the_tenants_rows(
    world: tuple[HubConfig, Store], shop: ShopifySandbox, figures: Figures
) -> None:
    _, store = world
    with store.transaction() as db:
        store.upsert(
            db, "offer", [offer(t, code) for t in TENANTS for code in ("SOMMER10", "KOOP5")]
        )
    seen = 0
    for tenant in TENANTS:
        offers = load_offers(store, tenant=tenant)
        assert sorted(o["voucher_code"] for o in offers) == ["KOOP5", "SOMMER10"]
        destination = shopify_destination(shop, tenant)
        given = spy_on_writes(destination)
        destination.push(store, tenant=tenant, dry_run=True)
        spy = ConversionSpy(HubConfig())
        spy.push(store, tenant=tenant)
        expected = TenantReader(store, tenant).count("conversion")
        assert len(spy.given) == expected and len(given) == 2
        seen += leaks(offers, tenant) + leaks(given, tenant) + leaks(spy.given, tenant)
        figures.add(ATTACKS, 2)
        figures.add(CHECKED, len(given) + len(spy.given))
    figures.add(LEAKED, seen)
    assert seen == 0


def test_a_pushed_file_cannot_mark_another_tenants_offer(
    world: tuple[HubConfig, Store], shop: ShopifySandbox, figures: Figures
) -> None:
    _, store = world
    theirs = offer("nord", "NORD20")
    with store.transaction() as db:
        store.upsert(db, "offer", [theirs])
    before = snapshot(store, "nord")
    crafted = {**offer("alpen", "ALPEN20"), "id": theirs["id"]}  # alpen's file, nord's row id
    figures.add(ATTACKS)
    push_offers(store, shopify_destination(shop, "alpen"), tenant="alpen", rows=[crafted])
    after = snapshot(store, "nord")
    touched = sum(after[t].get(k) != row for t in before for k, row in before[t].items())
    assert touched == 0, "alpen's push wrote its Shopify ids onto nord's offer"


# -- reading: the CLI and the Python API scoped to one tenant -------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    yield CliRunner()
    logging.getLogger().removeHandler(cli_module._log_handler)
    for name in ("hub", "connectors"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def quarantine_both(store: Store, record: dict[str, Any]) -> None:
    """The same failed record waiting for each tenant's shop connection."""
    with store.transaction() as db:
        for tenant in TENANTS:
            add_to_quarantine(
                db,
                [Quarantined("orders", record, f"failed for {tenant}", json.dumps([record["id"]]))],
                run_id=0,
                name=f"{tenant}-shop",
                tenant=tenant,
                source="shopify",
            )


def a_shop_order(hub: HubConfig) -> dict[str, Any]:
    connector = open_connector(hub, "alpen-shop")
    try:
        messages = connector.read(["orders"], {})
        record = next(m.data for m in messages if isinstance(m, Record))
        messages.close()  # type: ignore[attr-defined]
    finally:
        connector.close()
    return dict(record)


def run(cli: CliRunner, config: Path, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_cli_reads_scoped_to_a_tenant_show_nothing_of_the_other(
    world: tuple[HubConfig, Store], cli: CliRunner, figures: Figures
) -> None:
    hub, store = world
    config = hub.path
    quarantine_both(store, {"id": 1, "who": "bad"})
    everything = all_rows(store)
    theirs = {r["id"] for rows in everything.values() for r in rows if r["tenant"] == "nord"}
    their_names = ("nord-shop", "nord-awin")
    seen = 0
    for entity in ("conversion", "conversion_item", "partner"):
        code, output = run(cli, config, "rows", entity, "--tenant", "alpen", "--limit", "100000")
        assert code == 0, output
        rows = [json.loads(line) for line in output.splitlines()]
        expected = sorted(r["id"] for r in everything[entity] if r["tenant"] == "alpen")
        assert [r["id"] for r in rows] == expected
        seen += leaks(rows, "alpen") + sum(r["id"] in theirs for r in rows)
    code, output = run(cli, config, "rows", "conversion", "-t", "alpen", "-n", "3")
    assert code == 0 and len(output.splitlines()) == 3
    first = json.loads(output.splitlines()[0])
    assert isinstance(first["amount"], str) and first["synced_at"].endswith("+00:00")

    code, output = run(cli, config, "runs", "--tenant", "alpen", "--json")
    runs = json.loads(output)
    assert code == 0 and sorted(r["connection"] for r in runs) == sorted(of("alpen"))
    seen += leaks(runs, "alpen")
    code, output = run(cli, config, "runs", "--tenant", "alpen")
    assert code == 0 and "alpen-shop" in output and not any(n in output for n in their_names)

    code, output = run(cli, config, "quarantine", "list", "--tenant", "nord", "--json")
    entries = json.loads(output)
    assert code == 0 and [e["connection"] for e in entries] == ["nord-shop"]
    seen += leaks(entries, "nord")
    code, output = run(cli, config, "quarantine", "list", "--tenant", "nord")
    assert (
        "1 record(s) in quarantine for tenant nord" in output and "failed for alpen" not in output
    )
    code, output = run(cli, config, "quarantine", "list")  # unscoped: both, each with its tenant
    assert "2 record(s) in quarantine" in output and "alpen" in output and "nord" in output

    # another tenant's connection, an unknown tenant: refused, naming only the asker's own
    for args in (
        ("rows", "conversion", "--tenant", "alpen", "--connection", "nord-shop"),
        ("runs", "nord-shop", "--tenant", "alpen"),
        ("quarantine", "list", "nord-shop", "--tenant", "alpen"),
    ):
        code, output = run(cli, config, *args)
        assert code == 1 and "is not a connection of tenant 'alpen'" in output, output
        assert "connections of alpen: alpen-awin, alpen-shop" in output
        assert not any(i in output for i in theirs)
    code, output = run(cli, config, "rows", "conversion", "--tenant", "alpne")
    assert (
        code == 1 and "no tenant is called 'alpne'" in output and "did you mean 'alpen'?" in output
    )
    code, output = run(cli, config, "rows", "conversions", "--tenant", "alpen")
    assert code == 1 and "did you mean 'conversion'?" in output
    figures.add(ATTACKS, 9)
    figures.add(LEAKED, seen)
    assert seen == 0


def test_the_python_api_scoped_to_a_tenant_sees_nothing_of_the_other(
    world: tuple[HubConfig, Store], figures: Figures
) -> None:
    hub, store = world
    quarantine_both(store, {"id": 2, "who": "bad"})
    everything = all_rows(store)
    seen = 0
    for tenant in TENANTS:
        reader = TenantReader.from_config(hub, store, tenant)
        assert reader.connections == tuple(sorted(of(tenant)))
        for entity, rows in everything.items():
            got = list(reader.rows(entity))
            assert sorted(r["id"] for r in got) == sorted(
                r["id"] for r in rows if r["tenant"] == tenant
            )
            seen += leaks(got, tenant)
            figures.add(CHECKED, len(got))
            # every row id of the other tenant is invisible, one by one
            for row in rows:
                if row["tenant"] != tenant:
                    seen += reader.get(entity, row["id"]) is not None
        seen += leaks(reader.runs(limit=1000), tenant)
        seen += leaks(reader.quarantine(include_resolved=True), tenant)
        states = reader.states()
        assert set(states) == set(of(tenant)) and all(states.values())
        for name in of(OTHER[tenant]):
            seen += len(reader.runs(connection=name)) + len(reader.states(connection=name))
            seen += reader.count("conversion", connection=name)
        figures.add(ATTACKS, 4)
    figures.add(LEAKED, seen)
    assert seen == 0


def test_state_and_replay_of_a_connection_act_on_that_connection_alone(
    world: tuple[HubConfig, Store], cli: CliRunner, figures: Figures
) -> None:
    hub, store = world
    config = hub.path
    with store.transaction() as db:
        states = {name: load_state(db, name) for name in hub.connections}
    assert all(states.values())
    code, output = run(cli, config, "state", "show", "alpen-shop")
    assert code == 0 and json.loads(output) == states["alpen-shop"]

    record = a_shop_order(hub)  # a good record: replay stores it
    quarantine_both(store, record)
    before = snapshot(store, "nord")
    code, output = run(cli, config, "quarantine", "replay", "alpen-shop")
    assert code == 0 and "replayed: 1 stored, 0 still failing" in output
    code, output = run(cli, config, "state", "reset", "alpen-shop", "--yes")
    assert code == 0 and f"reset {len(states['alpen-shop'])} stream cursor(s)" in output

    with store.transaction() as db:
        after = {name: load_state(db, name) for name in hub.connections}
    assert after["alpen-shop"] == {}
    assert {n: s for n, s in after.items() if n != "alpen-shop"} == {
        n: s for n, s in states.items() if n != "alpen-shop"
    }
    nord_open = TenantReader(store, "nord").quarantine()
    assert [(e["connection"], e["record"]["id"]) for e in nord_open] == [
        ("nord-shop", record["id"])
    ]
    assert TenantReader(store, "alpen").quarantine() == []
    stored = TenantReader(store, "alpen").get(
        "conversion", make_id("alpen", "shopify", "conversion", str(record["id"]))
    )
    assert stored is not None and stored["connection"] == "alpen-shop"
    nord_after = snapshot(store, "nord")
    touched = sum(nord_after[t].get(k) != row for t in before for k, row in before[t].items())
    figures.add(ATTACKS, 2)
    figures.add(LEAKED, touched)
    assert touched == 0
