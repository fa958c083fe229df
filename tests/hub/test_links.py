"""hub.links: marks recorded on canonical rows by system and account, beside each other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hub.links import marks_of, record_marks
from hub.schema import make_id
from hub.store import LINKS_KEY, Store


def conversion(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": make_id("t", "shop", "conversion", external_id),
        "tenant": "t",
        "source": "shop",
        "connection": "shop",
        "external_id": external_id,
        "source_updated_at": datetime(2025, 3, 1, tzinfo=UTC),
        "synced_at": datetime(2025, 3, 1, tzinfo=UTC),
        "extra": {"note": "kept"},
        **fields,
    }


def extra_of(store: Store, row_id: str) -> dict[str, Any]:
    table = store.table("conversion")
    with store.transaction() as db:
        return dict(db.execute(select(table.c.extra).where(table.c.id == row_id)).scalar_one())


def test_marks_of_two_accounts_and_two_systems_stay_beside_each_other(store: Store) -> None:
    row = conversion("1")
    with store.transaction() as db:
        store.upsert(db, "conversion", [row])
    assert (
        record_marks(
            store, "conversion", "awin_s2s", "15880", {row["id"]: {"batch": "a"}}, tenant="t"
        )
        == 1
    )
    assert (
        record_marks(
            store, "conversion", "awin_s2s", "99999", {row["id"]: {"batch": "b"}}, tenant="t"
        )
        == 1
    )
    assert (
        record_marks(store, "conversion", "ga4_mp", "G-1", {row["id"]: {"sent": True}}, tenant="t")
        == 1
    )
    extra = extra_of(store, row["id"])
    assert extra["note"] == "kept"
    assert extra[LINKS_KEY] == {
        "awin_s2s": {"15880": {"batch": "a"}, "99999": {"batch": "b"}},
        "ga4_mp": {"G-1": {"sent": True}},
    }
    assert marks_of({"extra": extra}, "awin_s2s") == {
        "15880": {"batch": "a"},
        "99999": {"batch": "b"},
    }
    assert marks_of({"extra": None}, "awin_s2s") == {}
    # the same mark again changes nothing; unknown ids are skipped
    assert (
        record_marks(store, "conversion", "ga4_mp", "G-1", {row["id"]: {"sent": True}}, tenant="t")
        == 0
    )
    assert (
        record_marks(store, "conversion", "ga4_mp", "G-1", {"nope": {"sent": True}}, tenant="t")
        == 0
    )
