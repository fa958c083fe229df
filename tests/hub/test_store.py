"""The store: exact money, UTC time, idempotent upserts where the latest version wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from hub.errors import ConfigError
from hub.schema import ConversionRow, PartnerRow, make_id
from hub.store import LINKS_KEY, Store, latest_per_id

T0 = datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)


def conversion(
    external_id: str, updated: datetime | None, amount: str, **extra: Any
) -> dict[str, Any]:
    row = ConversionRow(
        id=make_id("t", "shop", "conversion", external_id),
        tenant="t",
        source="shop",
        connection="c",
        external_id=external_id,
        source_updated_at=updated,
        synced_at=T0,
        amount=Decimal(amount),
        currency="EUR",
        **extra,
    )
    return row.model_dump()


def fetch(store: Store, table: str = "conversion") -> list[dict[str, Any]]:
    with store.transaction() as db:
        rows = db.execute(select(store.table(table)).order_by(store.table(table).c.external_id))
        return [dict(r._mapping) for r in rows]


def test_money_round_trips_exactly_and_time_comes_back_as_utc(store: Store) -> None:
    cet = timezone(timedelta(hours=1))
    row = conversion("1", datetime(2025, 3, 14, 16, 20, 5, tzinfo=cet), "0.10")
    row["presentment_amount"], row["presentment_currency"] = Decimal("313.70"), "CHF"
    with store.transaction() as db:
        store.upsert(db, "conversion", [row])
    (stored,) = fetch(store)
    assert stored["amount"] == Decimal("0.10")
    assert stored["presentment_amount"] == Decimal("313.70")
    assert stored["source_updated_at"] == T0
    assert stored["source_updated_at"].tzinfo is not None


def test_a_replayed_batch_changes_nothing(store: Store) -> None:
    rows = [conversion(str(i), T0, f"{i}.99") for i in range(5)]
    for _ in range(3):
        with store.transaction() as db:
            store.upsert(db, "conversion", rows)
    assert [r["amount"] for r in fetch(store)] == [Decimal(f"{i}.99") for i in range(5)]


def test_the_latest_source_version_wins_whatever_the_order(store: Store) -> None:
    newer = conversion("1", T0 + timedelta(hours=1), "20.00")
    older = conversion("1", T0, "10.00")
    with store.transaction() as db:
        store.upsert(db, "conversion", [newer])
    with store.transaction() as db:
        store.upsert(db, "conversion", [older])
    assert fetch(store)[0]["amount"] == Decimal("20.00")
    with store.transaction() as db:
        store.upsert(db, "conversion", [conversion("1", T0 + timedelta(hours=2), "30.00")])
    assert fetch(store)[0]["amount"] == Decimal("30.00")


def test_duplicates_inside_one_batch_keep_the_latest() -> None:
    rows = [
        conversion("1", T0, "1.00"),
        conversion("1", T0 + timedelta(1), "2.00"),
        conversion("1", T0, "3.00"),
    ]
    (kept,) = latest_per_id(rows)
    assert kept["amount"] == Decimal("2.00")


def test_a_row_without_source_time_always_replaces(store: Store) -> None:
    with store.transaction() as db:
        store.upsert(db, "conversion", [conversion("1", T0, "1.00")])
        store.upsert(db, "conversion", [conversion("1", None, "2.00")])
    assert fetch(store)[0]["amount"] == Decimal("2.00")


def test_failed_transaction_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as db:
        store.upsert(db, "conversion", [conversion("1", T0, "1.00")])
        raise RuntimeError("crash between upsert and commit")
    assert fetch(store) == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.engine.connect() as db:
        assert db.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_bad_database_url_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        Store("not a url")
    assert "database" in str(info.value)


def partner(external_id: str, updated: datetime | None, **columns: Any) -> dict[str, Any]:
    return PartnerRow(
        id=make_id("t", "shop", "partner", external_id),
        tenant="t",
        source="shop",
        connection="c",
        external_id=external_id,
        source_updated_at=updated,
        synced_at=T0,
        **columns,
    ).model_dump()


def test_fill_rows_create_missing_entities_and_only_fill_gaps(store: Store) -> None:
    with store.transaction() as db:
        store.upsert(db, "partner", [partner("P1", T0, name="Blog", website=None)], fill=True)
    (stub,) = fetch(store, "partner")
    assert stub["name"] == "Blog" and stub["source_updated_at"] is None

    full = partner("P1", T0 - timedelta(days=9), name="Nordic Blog", website="https://nb.example")
    with store.transaction() as db:
        store.upsert(db, "partner", [full])  # the entity's own (older) record replaces the stub
        store.upsert(db, "partner", [partner("P1", T0, name="Blog", country="DE")], fill=True)
    (row,) = fetch(store, "partner")
    assert row["name"] == "Nordic Blog" and row["website"] == "https://nb.example"
    assert row["country"] == "DE"  # a gap the reference could fill
    assert row["source_updated_at"] == T0 - timedelta(days=9)


def test_links_recorded_by_destinations_survive_new_versions(store: Store) -> None:
    first = conversion("1", T0, "10.00")
    first["extra"] = {"note": "first"}
    with store.transaction() as db:
        store.upsert(db, "conversion", [first])
        assert (
            store.record_links(
                db, "conversion", {first["id"]: {"network": {"id": 7}}}, tenant=first["tenant"]
            )
            == 1
        )
        assert (
            store.record_links(
                db, "conversion", {first["id"]: {"network": {"id": 7}}}, tenant=first["tenant"]
            )
            == 0
        )
        assert (
            store.record_links(db, "conversion", {"no-such-row": {"x": {}}}, tenant=first["tenant"])
            == 0
        )
    (stored,) = fetch(store)
    assert stored["source_updated_at"] == T0  # a link is not a new version

    newer = conversion("1", T0 + timedelta(hours=1), "12.00")
    newer["extra"] = {"note": "second"}
    with store.transaction() as db:
        store.upsert(db, "conversion", [newer])
    (stored,) = fetch(store)
    assert stored["amount"] == Decimal("12.00")
    assert stored["extra"] == {"note": "second", LINKS_KEY: {"network": {"id": 7}}}


def test_rows_without_links_keep_their_new_extra_as_is(store: Store) -> None:
    row = conversion("1", T0, "1.00")
    row["extra"] = {"a": 1}
    again = conversion("1", T0 + timedelta(1), "1.00")
    again["extra"] = {"b": [1, "ü"]}
    with store.transaction() as db:
        store.upsert(db, "conversion", [row])
        store.upsert(db, "conversion", [again])
    assert fetch(store)[0]["extra"] == {"b": [1, "ü"]}


def test_an_unsupported_database_is_refused_when_the_store_opens() -> None:
    with pytest.raises(ConfigError, match="'mysql' database is not supported"):
        Store("mysql://user@127.0.0.1/hub")


def test_rows_are_stored_exactly_as_sqlalchemy_itself_would_store_them(store: Store) -> None:
    """The compiled write path (Store._upsert_plan) against SQLAlchemy's own INSERT."""
    cet = timezone(timedelta(hours=1))
    row = conversion(
        "1",
        datetime(2025, 3, 14, 16, 20, 5, 123456, tzinfo=cet),
        "1234.56789",
        presentment_amount=Decimal("-0.00000001"),
        presentment_currency="CHF",
        voucher_codes=["SPRING10", "Grüezi"],
        is_test=True,
        occurred_at=datetime(2025, 3, 14, 16, 0, tzinfo=cet),
        extra={"note": "⛰️", "n": [1, 2.5, None], "deep": {"a": {"b": True}}},
    )
    reference = {**row, "id": make_id("t", "shop", "conversion", "2"), "external_id": "2"}
    table = store.table("conversion")
    with store.transaction() as db:
        store.upsert(db, "conversion", [row])
        db.execute(table.insert(), [reference])
    columns = [c.name for c in table.columns if c.name not in ("id", "external_id")]
    casts = ", ".join(f"CAST({name} AS TEXT)" for name in columns)
    with store.transaction() as db:
        ours, theirs = db.execute(
            text(f"SELECT {casts} FROM conversion ORDER BY external_id")  # noqa: S608
        ).all()
    assert ours == theirs


def test_a_column_missing_from_a_row_gets_its_default(store: Store) -> None:
    row = {
        "id": make_id("t", "shop", "conversion", "1"),
        "tenant": "t",
        "source": "shop",
        "connection": "c",
        "external_id": "1",
        "synced_at": T0,
    }
    with store.transaction() as db:
        store.upsert(db, "conversion", [row])
    (stored,) = fetch(store)
    assert (stored["status"], stored["customer_type"]) == ("pending", "unknown")
    assert (stored["voucher_codes"], stored["extra"], stored["is_test"]) == ([], {}, False)
    assert stored["amount"] is None
