"""Every built-in converter, called directly (the engine never passes None)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.mapping.converters import BUILTIN_CONVERTERS as C


def convert(converter: str, value: Any, /, **args: Any) -> Any:
    return C[converter](value, **args)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("122.90", Decimal("122.90")),  # text keeps its exact digits
        (" 8.07 ", Decimal("8.07")),
        (125, Decimal(125)),
        (97.5, Decimal("97.5")),
        (313.70000000000005, Decimal("313.7")),  # float noise is dropped
        (0.1 + 0.2, Decimal("0.3")),
        (125.0, Decimal("125")),
        (Decimal("1.10"), Decimal("1.10")),
        ("", None),  # blank text: no value
        ("1e3", Decimal("1e3")),
    ],
)
def test_decimal(value: Any, expected: Decimal | None) -> None:
    result = convert("decimal", value)
    assert result == expected
    if expected is not None:
        assert isinstance(result, Decimal)
        assert str(result) == str(expected)


def test_decimal_places_round_half_up() -> None:
    assert convert("decimal", "2.675", places=2) == Decimal("2.68")
    assert convert("decimal", 2.675, places=2) == Decimal("2.68")  # the float is 2.67499999...
    assert str(convert("decimal", "3", places=2)) == "3.00"


@pytest.mark.parametrize("value", ["abc", "1,5", "NaN", "Infinity", True, [1], {"a": 1}])
def test_decimal_rejects(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        convert("decimal", value)


def test_decimal_args_checked() -> None:
    check = C["decimal"].validate_args  # type: ignore[attr-defined]
    check(places=2)
    for bad in ("2", -1, 13, True):
        with pytest.raises(ValueError, match="places"):
            check(places=bad)


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("2025-03-14T16:20:05+01:00", {}, datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)),
        ("2025-03-14T15:20:05Z", {}, datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)),
        ("2025-03-14T15:20:05.123456+00:00", {}, datetime(2025, 3, 14, 15, 20, 5, 123456, UTC)),
        # Awin: no offset, in the requested zone
        (
            "2025-03-10T18:09:00",
            {"timezone": "Europe/Vienna"},
            datetime(2025, 3, 10, 17, 9, tzinfo=UTC),
        ),
        (  # summer time is applied by the zone, not a fixed offset
            "2025-07-10T18:09:00",
            {"timezone": "Europe/Vienna"},
            datetime(2025, 7, 10, 16, 9, tzinfo=UTC),
        ),
        (  # an explicit offset wins over the zone argument
            "2025-03-14T16:20:05+01:00",
            {"timezone": "America/New_York"},
            datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC),
        ),
        (
            "14.03.2025 16:20",
            {"format": "%d.%m.%Y %H:%M", "timezone": "UTC"},
            datetime(2025, 3, 14, 16, 20, tzinfo=UTC),
        ),
        (1741964712, {"epoch": "seconds"}, datetime(2025, 3, 14, 15, 5, 12, tzinfo=UTC)),
        (1741964712000, {"epoch": "milliseconds"}, datetime(2025, 3, 14, 15, 5, 12, tzinfo=UTC)),
        (date(2025, 3, 14), {"timezone": "UTC"}, datetime(2025, 3, 14, tzinfo=UTC)),
        ("", {}, None),
    ],
)
def test_timestamp(value: Any, args: dict[str, Any], expected: datetime | None) -> None:
    result = convert("timestamp", value, **args)
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC


def test_timestamp_without_offset_needs_a_zone() -> None:
    with pytest.raises(ValueError, match=r"no UTC offset.*timezone"):
        convert("timestamp", "2025-03-10T18:09:00")
    with pytest.raises(ValueError, match="no UTC offset"):
        convert("timestamp", datetime(2025, 3, 10, 18, 9))


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("yesterday", "ISO 8601"),
        (1741964712, "epoch"),
        (True, "timestamp"),
        ({"a": 1}, "timestamp"),
    ],
)
def test_timestamp_rejects(value: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        convert("timestamp", value)


def test_timestamp_args_checked() -> None:
    check = C["timestamp"].validate_args  # type: ignore[attr-defined]
    check(timezone="Europe/Berlin", epoch="seconds", format="%Y")
    with pytest.raises(ValueError, match="unknown time zone"):
        check(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="epoch"):
        check(epoch="minutes")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-14", date(2025, 3, 14)),
        ("20250314", date(2025, 3, 14)),  # GA4
        (20250314, date(2025, 3, 14)),
        (date(2025, 3, 14), date(2025, 3, 14)),
        ("", None),
    ],
)
def test_date(value: Any, expected: date | None) -> None:
    assert convert("date", value) == expected


@pytest.mark.parametrize("value", ["2025-02-30", "20251301", "14.03.2025", "2025-3-4", 1.5])
def test_date_rejects(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        convert("date", value)


def test_date_refuses_a_timestamp() -> None:
    with pytest.raises(TypeError, match="time zone"):
        convert("date", datetime(2025, 3, 14, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        ("Yes", True),
        ("1", True),
        (1, True),
        ("FALSE", False),
        ("n", False),
        (0, False),
        ("off", False),
        ("", None),
    ],
)
def test_bool(value: Any, expected: bool | None) -> None:
    assert convert("bool", value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_bool_rejects(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        convert("bool", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), ("12", 12), (" -4 ", -4), (3.0, 3), ("3.0", 3), (Decimal("7"), 7), ("", None)],
)
def test_int(value: Any, expected: int | None) -> None:
    result = convert("int", value)
    assert result == expected
    assert result is None or type(result) is int


@pytest.mark.parametrize("value", [3.5, "3.5", "x", True, None.__class__])
def test_int_rejects(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        convert("int", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "a"),
        (2042, "2042"),
        (300401.0, "300401"),
        (313.70000000000005, "313.7"),
        (Decimal("1.10"), "1.10"),
        (True, "true"),
        (date(2025, 3, 14), "2025-03-14"),
        (datetime(2025, 3, 14, 1, 2, 3, tzinfo=UTC), "2025-03-14T01:02:03+00:00"),
    ],
)
def test_string(value: Any, expected: str) -> None:
    assert convert("string", value) == expected


def test_string_rejects_objects() -> None:
    with pytest.raises(TypeError, match="json"):
        convert("string", {"a": 1})


def test_case_and_strip() -> None:
    assert convert("upper", "eur") == "EUR"
    assert convert("upper", 12) == "12"
    assert convert("lower", "ABC") == "abc"
    assert convert("strip", "  x \n") == "x"


def test_hash() -> None:
    expected = hashlib.sha256(b"lea.zuercher@example.ch").hexdigest()
    assert convert("hash", "  Lea.Zuercher@Example.CH ") == expected
    assert convert("hash", "lea.zuercher@example.ch") == expected
    assert convert("hash", "   ") is None  # POS orders have email ""
    assert len(convert("hash", 12345)) == 64


def test_json() -> None:
    assert convert("json", '{"a": [1, 2]}') == {"a": [1, 2]}
    assert convert("json", b"[1]") == [1]
    assert convert("json", {"already": "parsed"}) == {"already": "parsed"}
    assert convert("json", "") is None
    with pytest.raises(ValueError, match="JSON"):
        convert("json", "{nope")


def test_split_and_join() -> None:
    assert convert("split", "wholesale, vip,,") == ["wholesale", "vip"]
    assert convert("split", "a|b", sep="|") == ["a", "b"]
    assert convert("split", ["kept"]) == ["kept"]
    assert convert("join", ["a", None, 2]) == "a,2"
    assert convert("join", ["a", "b"], sep=" / ") == "a / b"
    with pytest.raises(ValueError, match="sep"):
        C["split"].validate_args(sep="")  # type: ignore[attr-defined]


def test_first_and_sum() -> None:
    assert convert("first", [None, "x", "y"]) == "x"
    assert convert("first", []) is None
    assert convert("first", "scalar") == "scalar"
    assert convert("sum", ["12.00", 2.5, None, 1]) == Decimal("15.50")
    assert convert("sum", []) == Decimal(0)
    assert convert("sum", [0.1, 0.2], places=2) == Decimal("0.30")
    with pytest.raises(ValueError):
        convert("sum", ["1", "x"])


def test_query_param() -> None:
    landing = "/de-ch/products/x?awc=15880_1741964712_2c4f&utm_source=awin"
    assert convert("query_param", landing, name="awc") == "15880_1741964712_2c4f"
    assert convert("query_param", landing, name=["cks", "utm_source"]) == "awin"
    assert convert("query_param", "https://shop.example/?a=", name="a") is None
    assert convert("query_param", "/no-query", name="awc") is None
    with pytest.raises(ValueError, match="name"):
        C["query_param"].validate_args(name=[])  # type: ignore[attr-defined]
