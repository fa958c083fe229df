"""hub.jsontext: JSON text that is always valid, and rows whose integers fit every database."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from hub import jsontext
from hub.history import quarantine_id, record_key
from hub.runner import _short_repr
from hub.schema import make_id
from hub.schema.models import INTEGER_MAX, ClickRow
from hub.store import Store


def test_non_finite_floats_and_huge_integers_become_valid_json() -> None:
    value = {"a": math.nan, "b": [math.inf, -math.inf], "c": 10**30, "d": 1.5}
    text = jsontext.dumps(value, sort_keys=True)
    assert json.loads(text) == {
        "a": "NaN",
        "b": ["Infinity", "-Infinity"],
        "c": 10**30,
        "d": 1.5,
    }
    assert "NaN," not in text.replace('"NaN"', "")


def test_quarantine_ids_and_keys_of_records_with_huge_integers() -> None:
    record = {"id": 10**40, "n": 1}
    assert quarantine_id("c", "s", record) == quarantine_id("c", "s", dict(record))
    assert record_key(record, ("id",)) == f"[{10**40}]"
    # records orjson can encode keep their ids (entries recorded before stay matched)
    assert quarantine_id("c", "s", {"id": 1}) != quarantine_id("c", "s", {"id": 2})


def test_nan_in_extra_is_stored_as_text_and_the_row_can_be_updated(store: Store) -> None:
    row: dict[str, Any] = {
        "id": make_id("t", "s", "click", "1"),
        "tenant": "t",
        "source": "s",
        "connection": "c",
        "external_id": "1",
        "synced_at": datetime(2025, 3, 1, tzinfo=UTC),
        "extra": {"score": math.nan, "big": 10**30},
    }
    with store.transaction() as db:
        store.upsert(db, "click", [row])
    with store.transaction() as db:  # the next upsert of that row reads the stored JSON
        store.upsert(db, "click", [{**row, "count": 2}])
    table = store.table("click")
    with store.transaction() as db:
        extra = db.execute(select(table.c.extra)).scalar_one()
    assert extra == {"score": "NaN", "big": 10**30}


def test_integer_columns_refuse_what_no_database_can_hold() -> None:
    base = {
        "id": "x",
        "tenant": "t",
        "source": "s",
        "connection": "c",
        "external_id": "e",
        "synced_at": datetime(2025, 3, 1, tzinfo=UTC),
        "day": "2025-03-01",
    }
    assert ClickRow.model_validate({**base, "count": INTEGER_MAX}).count == INTEGER_MAX
    with pytest.raises(ValidationError):
        ClickRow.model_validate({**base, "count": INTEGER_MAX + 1})


def test_a_number_too_long_to_print_is_described_not_a_crash() -> None:
    assert _short_repr(10**5000) == "a number too long to show"
    assert _short_repr("x" * 100).endswith("...") and len(_short_repr("x" * 100)) == 60


@pytest.mark.parametrize(
    "value",
    [
        {"a": math.nan},
        {"a": [1, {"b": -math.inf}]},
        {"big": 10**30},
        {"when": datetime(2025, 3, 1, tzinfo=UTC)},
        {"pair": (1, 2)},
        {1: "int key"},
        {"amount": __import__("decimal").Decimal("1.10")},
    ],
    ids=["nan", "nested-inf", "big-int", "datetime", "tuple", "int-key", "decimal"],
)
def test_values_orjson_would_change_take_the_exact_path(value: Any) -> None:
    text = jsontext.dumps(value)
    exact = json.dumps(jsontext.finite(value), ensure_ascii=False, allow_nan=False, default=str)
    assert text == exact


def test_plain_json_values_are_written_by_orjson_and_read_back_equal() -> None:
    value = {"name": "Geschenk ⛰️", "n": [1, 2.5, None, True], "nested": {"x": "y"}}
    text = jsontext.dumps(value)
    assert json.loads(text) == value
    assert text == '{"name":"Geschenk ⛰️","n":[1,2.5,null,true],"nested":{"x":"y"}}'
