"""Money as destinations read it from canonical rows and send it out: exact, in cents.

Canonical amounts are ``Decimal``; APIs take JSON numbers. A two-decimal
amount survives ``float`` exactly at the text level (``55.96`` is sent as
``55.96``), so :func:`json_number` rounds to cents first, half up as
merchants do. The readers raise :class:`~hub.errors.RecordError` naming the
row, so one bad row fails alone.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from hub.errors import RecordError

__all__ = ["CENT", "amount", "cents", "json_number", "whole"]

CENT = Decimal("0.01")


def amount(value: Any, where: str) -> Decimal:
    """``value`` (a Decimal, int, or decimal text) as a finite Decimal."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        number = Decimal(str(value))
    except InvalidOperation:
        raise RecordError(f"{where}: {value!r} is not an amount") from None
    if not number.is_finite():
        raise RecordError(f"{where}: {value!r} is not an amount")
    return number


def whole(value: Any, where: str) -> int:
    """``value`` (an int, digit text or integral Decimal) as an int."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise RecordError(f"{where}: {value!r} is not a whole number")
    try:
        return int(str(value))
    except ValueError:
        raise RecordError(f"{where}: {value!r} is not a whole number") from None


def cents(value: Decimal) -> Decimal:
    """Rounded to cents, half up."""
    return value.quantize(CENT, ROUND_HALF_UP)


def json_number(value: Decimal) -> float:
    """An amount as the JSON number APIs take: cents, exact at the text level."""
    return float(cents(value))
