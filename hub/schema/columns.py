"""Column types that keep money exact and time in UTC on every database.

SQLite has no decimal type (``NUMERIC`` affinity rounds through a float), so
money is stored there as its exact decimal text; PostgreSQL gets ``NUMERIC``.
SQLite also drops time zones, so timestamps are written as UTC and read back
as timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount: ``NUMERIC(24, 8)``, or decimal text on SQLite."""

    impl = Numeric(24, 8)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(24, 8, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return _decimal_text(value) if dialect.name == "sqlite" else _decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else _decimal(value)

    def fast_bind(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """``process_bind_param`` and the dialect's own conversion in one call, where they
        can be fused (SQLite: decimal text); None: use the type's bind processor.

        The store's write path calls this once per value (hub.store); a test there
        checks the stored values equal what SQLAlchemy's own INSERT stores.
        """
        if dialect.name != "sqlite":
            return None
        return _money_text


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, always stored and returned in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        instant = _utc(value)
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def fast_bind(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """As :meth:`Money.fast_bind`: on SQLite the UTC instant as the text SQLAlchemy's
        SQLite ``DATETIME`` writes (``YYYY-MM-DD HH:MM:SS.ffffff``), in one call."""
        if dialect.name != "sqlite":
            return None
        # The same instant object comes many times in a row (synced_at of a whole run, an
        # order's updated_at on each of its items); datetimes are immutable, so the text
        # of the last one is kept. One tuple, replaced whole: safe across threads.
        last: list[tuple[Any, str]] = [(None, "")]

        def as_text(value: Any) -> str | None:
            if value is None:
                return None
            seen, text = last[0]
            if value is seen:
                return text
            if value.__class__ is datetime and value.tzinfo is UTC:
                # What validated rows hold (hub.schema.models converts to UTC): already
                # the instant to store, so no conversion and no naive copy; its fields
                # formatted directly, as SQLAlchemy's SQLite DATETIME formats them.
                text = _SQLITE_DATETIME % (
                    value.year,
                    value.month,
                    value.day,
                    value.hour,
                    value.minute,
                    value.second,
                    value.microsecond,
                )
            else:
                text = _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
            last[0] = (value, text)
            return text

        return as_text


#: ``isoformat(" ", "microseconds")`` of a naive datetime, at a third less cost.
_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _decimal_text(value: Any) -> str:
    """How SQLite stores an amount: the exact decimal, never in exponent notation."""
    return format(_decimal(value), "f")


def _money_text(value: Any) -> str | None:
    """:func:`_decimal_text` of a money value (None stays None), as SQLite gets it.

    ``str`` of a ``Decimal`` is the same text as ``format(value, "f")`` whenever
    it has no exponent (``E``, or ``e`` under a context with ``capitals=0``), and
    less than half the cost; amounts like ``24.90`` never have one. Anything
    else -- exponents, other types, ``Decimal`` subclasses -- takes the exact path.
    """
    if value.__class__ is Decimal:
        text = str(value)
        if "E" not in text and "e" not in text:
            return text
    elif value is None:
        return None
    return _decimal_text(value)


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)
