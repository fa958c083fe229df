"""The canonical schema: exact money with currency, UTC time, deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from hub.schema import (
    ENTITIES,
    ClickRow,
    ConversionItemRow,
    ConversionRow,
    ConversionStatus,
    SkuRow,
    entity_columns,
    make_id,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def envelope(**fields: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "tenant": "t",
        "source": "s",
        "connection": "c",
        "external_id": "1",
        "synced_at": NOW,
        **fields,
    }


def test_the_six_tables_have_the_public_names() -> None:
    assert set(ENTITIES) == {"partner", "offer", "sku", "click", "conversion", "conversion_item"}
    for name, (_, table) in ENTITIES.items():
        assert table.__table__.name == name  # type: ignore[attr-defined]


def test_every_table_carries_the_envelope() -> None:
    for entity in ENTITIES:
        assert {
            "id",
            "tenant",
            "source",
            "connection",
            "external_id",
            "source_updated_at",
            "synced_at",
            "extra",
        } <= entity_columns(entity)


def test_ids_are_deterministic_and_scoped() -> None:
    a = make_id("nordlicht", "shopify", "conversion", "42")
    assert a == make_id("nordlicht", "shopify", "conversion", "42")
    assert (
        len(
            {
                a,
                make_id("other", "shopify", "conversion", "42"),
                make_id("nordlicht", "awin", "conversion", "42"),
                make_id("nordlicht", "shopify", "sku", "42"),
            }
        )
        == 4
    )


def test_money_is_decimal_and_needs_a_currency() -> None:
    row = ConversionRow.model_validate(envelope(amount="122.90", currency="EUR"))
    assert row.amount == Decimal("122.90")
    with pytest.raises(ValidationError, match="currency is missing"):
        ConversionRow.model_validate(envelope(amount="1.00"))
    with pytest.raises(ValidationError):
        ConversionRow.model_validate(envelope(amount="1.00", currency="euro"))


def test_timestamps_must_be_aware_and_become_utc() -> None:
    cet = timezone(timedelta(hours=1))
    row = ConversionRow.model_validate(
        envelope(occurred_at=datetime(2025, 3, 14, 16, 0, tzinfo=cet))
    )
    assert row.occurred_at == datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
    assert row.occurred_at is not None and row.occurred_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        ConversionRow.model_validate(envelope(occurred_at=datetime(2025, 3, 14, 16, 0)))


def test_blank_sku_counts_as_none() -> None:
    item = ConversionItemRow.model_validate(envelope(conversion_id="p", sku="  "))
    assert item.sku is None
    assert SkuRow.model_validate(envelope(sku="")).sku is None


def test_status_is_a_closed_vocabulary() -> None:
    assert (
        ConversionRow.model_validate(envelope(status="approved")).status
        is ConversionStatus.APPROVED
    )
    with pytest.raises(ValidationError):
        ConversionRow.model_validate(envelope(status="paid"))


def test_a_click_needs_a_time_or_a_day() -> None:
    with pytest.raises(ValidationError, match="occurred_at or day"):
        ClickRow.model_validate(envelope())
    assert ClickRow.model_validate(envelope(day="2025-01-31", count=17)).count == 17
