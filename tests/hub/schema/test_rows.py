"""hub.schema.rows: the fast row check gives exactly what the row models give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from hub.schema import ENTITIES, make_id
from hub.schema.rows import validate_row

NOW = datetime(2025, 3, 14, 15, 20, tzinfo=UTC)


def envelope(entity: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": make_id("t", "shopify", entity, "1"),
        "tenant": "t",
        "source": "shopify",
        "connection": "shop",
        "external_id": "1",
        "source_updated_at": datetime(2025, 3, 14, 16, 21, tzinfo=timezone(timedelta(hours=1))),
        "synced_at": NOW,
        "extra": {"note": "kept", "nested": {"a": [1, 2]}},
        **fields,
    }


GOOD = [
    envelope(
        "conversion",
        order_ref=" ",
        amount=Decimal("122.90"),
        currency="EUR",
        status="approved",
        voucher_codes=["SPRING10"],
        occurred_at="2025-03-14T16:20:05+01:00",
        is_test="false",
    ),
    envelope(
        "conversion_item",
        conversion_id="c1",
        quantity="2",
        unit_price=Decimal("10"),
        currency="CHF",
        sku="",
    ),
    envelope("partner", name="Wanderwelt", kind="publisher", categories=["outdoor"]),
    envelope("click", day="2025-03-14", count=3),
    envelope("sku", sku="ALP-1", price=Decimal("1.5"), currency="EUR"),
    envelope("offer", kind="voucher", name="Spring"),
    {**envelope("conversion"), "extra": {1: "a key that is not text"}},
    {**envelope("conversion"), "extra": None},
    {**envelope("conversion"), "not_a_column": 1},
    {**envelope("conversion"), "extra": {}},
    {key: value for key, value in envelope("conversion").items() if key != "extra"},
    {**envelope("conversion"), "extra": {"text": 1, 2: "mixed key types"}},
]

BAD = [
    envelope("conversion", amount=Decimal("1"), currency=None),
    envelope("conversion", currency="eur"),
    envelope("conversion", status="paid"),
    envelope("conversion", occurred_at=datetime(2025, 3, 14)),
    envelope("conversion_item", conversion_id="c1", quantity=2**31),
    envelope("click"),
    {**envelope("conversion"), "extra": ["not", "a", "dict"]},
    {**envelope("partner"), "tenant": None},
    # the fast path (extra with text keys) must report the same errors as the model
    envelope("conversion_item", conversion_id=None, quantity="two"),
]


def entity_of(row: dict[str, Any]) -> str:
    for entity in ENTITIES:
        if row["id"] == make_id("t", "shopify", entity, "1"):
            return entity
    raise AssertionError(row)


@pytest.mark.parametrize("row", GOOD, ids=lambda row: entity_of(row))
def test_valid_rows_come_out_exactly_as_the_model_dumps_them(row: dict[str, Any]) -> None:
    entity = entity_of(row)
    try:
        expected = ENTITIES[entity][0].model_validate(row).model_dump()
    except ValidationError as exc:
        with pytest.raises(ValidationError) as caught:
            validate_row(entity, row)
        assert comparable(caught.value) == comparable(exc)
        return
    got = validate_row(entity, row)
    assert got == expected
    assert {key: type(value) for key, value in got.items()} == {
        key: type(value) for key, value in expected.items()
    }


@pytest.mark.parametrize("row", BAD, ids=lambda row: entity_of(row))
def test_invalid_rows_fail_with_the_models_errors(row: dict[str, Any]) -> None:
    entity = entity_of(row)
    with pytest.raises(ValidationError) as expected:
        ENTITIES[entity][0].model_validate(row)
    with pytest.raises(ValidationError) as got:
        validate_row(entity, row)
    assert comparable(got.value) == comparable(expected.value)


def comparable(error: ValidationError) -> list[tuple[Any, ...]]:
    """The errors without ``ctx`` (it holds exception objects, never equal to each other)."""
    return [
        (item["type"], item["loc"], item["msg"], item["input"])
        for item in error.errors(include_url=False)
    ]


def test_the_row_given_is_not_changed() -> None:
    row = envelope("conversion", amount=Decimal("1"), currency="EUR")
    before = dict(row)
    validate_row("conversion", row)
    assert row == before


def test_extra_with_text_keys_is_passed_through_not_copied() -> None:
    row = envelope("conversion")
    assert validate_row("conversion", row)["extra"] is row["extra"]
