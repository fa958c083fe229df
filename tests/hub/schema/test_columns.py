"""The column types' fused converters (``fast_bind``) store exactly what the exact path stores.

The reference converters below are frozen copies of the code before the fast
paths were added, so these tests pin the stored text, not just agreement with
whatever the helpers in hub.schema.columns do today; each case is also checked
against SQLAlchemy's own bind processor for the type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Context, Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from hub.schema.columns import Money, UTCDateTime

SQLITE = sqlite.dialect()
POSTGRESQL = postgresql.dialect()
PROPERTY = settings(max_examples=400, deadline=None)


def reference_money(value: Any) -> str | None:
    """Money's SQLite converter as it was: ``format(Decimal, "f")``."""
    if value is None:
        return None
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def reference_instant(value: Any) -> str | None:
    """UTCDateTime's SQLite converter as it was (without its one-value cache)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def outcome(convert: Callable[[Any], Any], value: Any) -> tuple[str, Any]:
    """What a converter does with a value: its result, or the error it raises."""
    try:
        return ("value", convert(value))
    except Exception as error:  # the error itself is what is compared
        return ("error", (type(error), str(error)))


def money_fast() -> Callable[[Any], Any]:
    convert = Money().fast_bind(SQLITE)
    assert convert is not None
    return convert


def instant_fast() -> Callable[[Any], Any]:
    convert = UTCDateTime().fast_bind(SQLITE)
    assert convert is not None
    return convert


def sqlalchemy_bind(column_type: Any) -> Callable[[Any], Any]:
    process = column_type.dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    return process


@contextmanager
def lowercase_exponents() -> Iterator[None]:
    with localcontext(Context(capitals=0)):
        yield


# Decimals built from their parts reach every exponent and sign, not only the
# ones a decimal literal with a few places would have.
built_decimals = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=30),
    st.integers(-40, 40),
)
money_values = st.one_of(
    built_decimals,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-(10**9), max_value=10**9),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.none(),
)

ODD_DECIMALS = [
    "24.90",
    "89.00",
    "0",
    "-0",
    "-0.00",
    "0E-8",
    "0E+3",
    "1E+2",
    "1E-7",
    "0.000001",
    "-0.00000001",
    "1234.56789",
    "0.123456789012345678901234567890",
    "NaN",
    "-NaN",
    "NaN123",
    "sNaN",
    "Infinity",
    "-Infinity",
]


class DecimalSubclass(Decimal):
    def __str__(self) -> str:
        return "999"


@pytest.mark.parametrize("text", ODD_DECIMALS)
def test_money_text_is_the_exact_decimal_text(text: str) -> None:
    value = Decimal(text)
    assert money_fast()(value) == reference_money(value)
    with lowercase_exponents():
        assert money_fast()(value) == reference_money(value)
    assert money_fast()(value) == sqlalchemy_bind(Money())(value)


def test_money_examples() -> None:
    convert = money_fast()
    assert convert(Decimal("24.90")) == "24.90"
    assert convert(Decimal("1E+2")) == "100"
    assert convert(Decimal("-1E-8")) == "-0.00000001"
    assert convert(Decimal("-0")) == "-0"
    assert convert(None) is None
    assert convert(7) == "7"
    assert convert(0.1) == "0.1"
    assert convert(DecimalSubclass("1.50")) == "1.50"


@PROPERTY
@given(money_values)
def test_money_fast_bind_matches_the_exact_path(value: Any) -> None:
    assert outcome(money_fast(), value) == outcome(reference_money, value)
    with lowercase_exponents():
        assert outcome(money_fast(), value) == outcome(reference_money, value)


@PROPERTY
@given(st.one_of(built_decimals, st.decimals(allow_nan=False)))
def test_money_fast_bind_matches_sqlalchemy(value: Decimal) -> None:
    assert money_fast()(value) == sqlalchemy_bind(Money())(value)


class NamedUTC(tzinfo):
    """A zone at offset zero that is not ``datetime.UTC`` itself."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"


class DatetimeSubclass(datetime):
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "not the stored text"


zones = st.one_of(
    st.just(UTC),
    st.none(),
    st.just(NamedUTC()),
    st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-1439, 1439)),
    st.timezones(),
)
instants = st.datetimes(timezones=zones)
instant_values = st.one_of(
    instants,
    st.builds(DatetimeSubclass.fromtimestamp, st.integers(0, 2**32), st.just(UTC)),
    st.dates(),
    st.text(max_size=5),
    st.integers(),
    st.none(),
)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC),
        datetime(2025, 3, 14, 15, 20, 5, 123456, tzinfo=UTC),
        datetime(2025, 3, 14, 16, 20, 5, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(2025, 3, 14, 16, 20, 5, tzinfo=NamedUTC()),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 10, 26, 1, 30, fold=1, tzinfo=UTC),
    ],
)
def test_instant_text_is_what_sqlalchemy_stores(value: datetime) -> None:
    assert instant_fast()(value) == reference_instant(value)
    assert instant_fast()(value) == sqlalchemy_bind(UTCDateTime())(value)


def test_instant_examples() -> None:
    convert = instant_fast()
    cet = timezone(timedelta(hours=1))
    assert convert(datetime(2025, 3, 14, 15, 0, tzinfo=UTC)) == "2025-03-14 15:00:00.000000"
    assert convert(datetime(2025, 3, 14, 16, 0, 7, tzinfo=cet)) == "2025-03-14 15:00:07.000000"
    assert convert(None) is None
    subclass = DatetimeSubclass(2025, 3, 14, 15, 0, tzinfo=UTC)
    assert convert(subclass) == reference_instant(subclass)
    for refused in (datetime(2025, 3, 14, 15, 0), date(2025, 3, 14), "2025-03-14T15:00:00Z"):
        with pytest.raises(ValueError, match="expected a timezone-aware datetime"):
            convert(refused)


@PROPERTY
@given(instant_values)
def test_instant_fast_bind_matches_the_exact_path(value: Any) -> None:
    assert outcome(instant_fast(), value) == outcome(reference_instant, value)


@PROPERTY
@given(instants.filter(lambda value: value.tzinfo is not None))
def test_instant_fast_bind_matches_sqlalchemy(value: datetime) -> None:
    assert outcome(instant_fast(), value) == outcome(sqlalchemy_bind(UTCDateTime()), value)


@PROPERTY
@given(st.lists(st.sampled_from([0, 1, 2]), max_size=12), st.lists(instant_values, min_size=3))
def test_instant_fast_bind_is_exact_across_repeated_values(
    picks: list[int], pool: list[Any]
) -> None:
    """One converter per column serves a whole run, remembering the last value it saw."""
    convert = instant_fast()
    for pick in picks:
        assert outcome(convert, pool[pick]) == outcome(reference_instant, pool[pick])


def test_postgresql_has_no_fast_bind() -> None:
    """PostgreSQL gets SQLAlchemy's own bind processors (hub.store falls back to them)."""
    assert Money().fast_bind(POSTGRESQL) is None
    assert UTCDateTime().fast_bind(POSTGRESQL) is None
