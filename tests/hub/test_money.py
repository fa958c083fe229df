"""hub.money: amounts read exactly, sent as cents."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from hub import money
from hub.errors import RecordError


@pytest.mark.parametrize(
    ("value", "expected"),
    [("55.96", Decimal("55.96")), (3, Decimal(3)), (Decimal("0.1"), Decimal("0.1"))],
)
def test_amounts_are_read_exactly(value: object, expected: Decimal) -> None:
    assert money.amount(value, "row 1") == expected


@pytest.mark.parametrize("value", [None, True, "1,5", "NaN", "Infinity", "", [1]])
def test_what_is_not_an_amount_names_the_row(value: object) -> None:
    with pytest.raises(RecordError, match=r"^row 7: .* is not an amount"):
        money.amount(value, "row 7")


def test_whole_numbers() -> None:
    assert money.whole("3", "q") == 3 and money.whole(Decimal(4), "q") == 4
    for bad in (True, 1.5, "1.5", None):
        with pytest.raises(RecordError, match="not a whole number"):
            money.whole(bad, "q")


def test_json_numbers_are_cents_rounded_half_up_and_exact_as_text() -> None:
    assert money.cents(Decimal("0.125")) == Decimal("0.13")
    assert money.cents(Decimal("2.675")) == Decimal("2.68")  # a float would give 2.67
    for text in ("1083.29", "0.10", "55.96", "19999999.99"):
        sent = orjson.dumps(money.json_number(Decimal(text))).decode()
        assert Decimal(sent) == Decimal(text)
