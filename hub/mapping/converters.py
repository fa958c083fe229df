"""Built-in converters: small functions ``converter(value, **args) -> value``.

The engine never calls a converter with ``None`` (a null skips the rest of
the chain), so every converter may assume a real value. A converter raises
``ValueError`` or ``TypeError`` with a short reason when the value is wrong;
the engine turns that into a :class:`hub.errors.RecordError` naming the
stream, field and value. Typed converters (int, decimal, timestamp, date,
bool) read a blank string as ``None``: CSV exports write "no value" that way.

A converter may carry ``validate_args``, a function called once at load time
with the field's ``args`` that raises ``ValueError`` when they are unusable
(an unknown time zone, say), so the mistake is reported with its file and
line instead of on every record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

Converter = Callable[..., Any]

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _needs(kind: str, value: Any) -> TypeError:
    return TypeError(f"expected {kind}, got {type(value).__name__}")


def to_string(value: Any) -> str:
    """Text: numbers without float noise, booleans as ``true``/``false``, dates in ISO 8601."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return format(to_decimal(value), "f")
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    raise _needs("text, a number, a boolean or a date (use `json` for objects and lists)", value)


def to_int(value: Any) -> int | None:
    """A whole number from an int, an integral float or decimal, or text such as ``"12"``."""
    if isinstance(value, bool):
        raise _needs("a whole number", value)
    if isinstance(value, int):
        return value
    if _blank(value):
        return None
    if isinstance(value, str | float | Decimal):
        number = to_decimal(value)
        if number is None or number != number.to_integral_value():
            raise ValueError("not a whole number")
        return int(number)
    raise _needs("a whole number", value)


def to_decimal(value: Any, *, places: int | None = None) -> Decimal | None:
    """An exact Decimal. Floats are read through 15 significant digits (see docs/mapping.md).

    ``places`` rounds half up to that many decimal places (money in cents: 2).
    """
    if value.__class__ is str:  # the common case first: money as text
        number = _DECIMALS.get(value)
        if number is not None and places is None:
            return number  # read before, so finite
        if number is None:
            try:
                number = Decimal(value)  # surrounding whitespace is allowed
            except InvalidOperation:
                if not value.strip():
                    return None
                raise ValueError("not a decimal number") from None
            if number.is_finite():
                if len(_DECIMALS) >= _DECIMALS_SIZE:
                    _DECIMALS.clear()
                _DECIMALS[value] = number
    elif isinstance(value, bool):
        raise _needs("a decimal number", value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # A double holds 15 significant decimal digits exactly; anything past
        # that is binary noise (313.70000000000005 is 313.7 in the source).
        number = Decimal(format(value, ".15g"))
    else:
        raise _needs("a decimal number", value)
    return _checked(number, places)


def _checked(number: Decimal, places: int | None) -> Decimal:
    """``number`` if finite, rounded half up to ``places`` decimal places when given."""
    if not number.is_finite():
        raise ValueError("not a finite number")
    if places is not None:
        quantum = _QUANTA.get(places) if isinstance(places, int) else None
        if quantum is None:
            quantum = Decimal(1).scaleb(-places)
        number = number.quantize(quantum, rounding=ROUND_HALF_UP)
    return number


#: Decimal text -> its finite Decimal. Money texts repeat (prices, "0.00", discounts),
#: ``Decimal(text)`` is exact whatever the context, and Decimals are immutable, so
#: reading each text once is safe. Bounded: emptied when full.
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_SIZE = 1024

_ZERO = Decimal(0)

#: ``Decimal(1).scaleb(-places)`` for the places a mapping may ask for, made once.
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(13)}
#: ``_checked(_ZERO, places)`` for the same places: the sum of an empty list (a line
#: without discounts). Decimals are immutable, so sharing one is safe.
_ZEROS = {
    places: _ZERO.quantize(quantum, rounding=ROUND_HALF_UP) for places, quantum in _QUANTA.items()
}


def _check_decimal_args(*, places: int | None = None) -> None:
    if places is not None and (not isinstance(places, int) or isinstance(places, bool)):
        raise ValueError("places must be a whole number of decimal places, e.g. 2")
    if places is not None and not 0 <= places <= 12:
        raise ValueError("places must be between 0 and 12")


def to_timestamp(
    value: Any,
    *,
    timezone: str | None = None,
    format: str | None = None,
    epoch: str | None = None,
) -> datetime | None:
    """A timezone-aware UTC datetime.

    Text is ISO 8601 (or ``format``, a ``strptime`` pattern). Input without a
    UTC offset is accepted only with ``timezone`` (an IANA name such as
    ``Europe/Berlin``): guessing the zone would shift every timestamp.
    Numbers are accepted only with ``epoch: seconds`` or ``epoch: milliseconds``.
    """
    if value.__class__ is str and format is None:
        if timezone is None:
            known = _INSTANTS.get(value)
            if known is not None:
                return known
        try:  # the common case: ISO 8601 text with an offset
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None and timezone is None:
                instant = parsed.astimezone(UTC)
                if len(_INSTANTS) >= _INSTANTS_SIZE:
                    _INSTANTS.clear()
                _INSTANTS[value] = instant
                return instant
    if isinstance(value, bool):
        raise _needs("a timestamp", value)
    if isinstance(value, int | float | Decimal):
        if epoch is None:
            raise ValueError(
                "a number is not a timestamp unless the field says args: {epoch: seconds} "
                "or {epoch: milliseconds}"
            )
        seconds = float(value) / (1000 if epoch == "milliseconds" else 1)
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.strptime(text, format) if format else datetime.fromisoformat(text)
        except ValueError:
            expected = f"the format {format!r}" if format else "ISO 8601"
            raise ValueError(f"not a timestamp in {expected}") from None
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        raise _needs("a timestamp", value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if timezone is None:
            raise ValueError(
                "the timestamp has no UTC offset; add args: {timezone: <IANA zone>} "
                "(e.g. Europe/Berlin) naming the zone the source writes in"
            )
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(UTC)


#: ISO 8601 text with an offset -> its UTC instant. A record often carries the same
#: text several times (created_at, processed_at, the customer's created_at read by a
#: converter), and datetimes are immutable, so parsing each text once is safe. Bounded:
#: emptied when full.
_INSTANTS: dict[str, datetime] = {}
_INSTANTS_SIZE = 1024


def _check_timestamp_args(
    *, timezone: str | None = None, format: str | None = None, epoch: str | None = None
) -> None:
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {timezone!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
    if format is not None and not isinstance(format, str):
        raise ValueError("format must be a strptime pattern such as '%d.%m.%Y %H:%M'")
    if epoch not in (None, "seconds", "milliseconds"):
        raise ValueError("epoch must be seconds or milliseconds")


def to_date(value: Any) -> date | None:
    """A calendar date from ``YYYY-MM-DD`` or ``YYYYMMDD`` (GA4) text."""
    if isinstance(value, datetime):
        raise TypeError(
            "got a timestamp; which day it falls on depends on the time zone "
            "(convert it with `timestamp` into occurred_at instead)"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _needs("a date", value)
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a valid calendar date") from None
    raise ValueError("not a date in YYYY-MM-DD or YYYYMMDD form")


def to_bool(value: Any) -> bool | None:
    """A boolean from true/false, yes/no, y/n, on/off, 1/0 (any case) or the numbers 1 and 0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("not a boolean (true/false, yes/no, 1/0)")
    raise _needs("a boolean", value)


def upper(value: Any) -> str:
    """Upper-case text (numbers are turned into text first)."""
    return value.upper() if value.__class__ is str else to_string(value).upper()


def lower(value: Any) -> str:
    """Lower-case text."""
    return value.lower() if value.__class__ is str else to_string(value).lower()


def strip(value: Any) -> str:
    """Text without surrounding whitespace."""
    return value.strip() if value.__class__ is str else to_string(value).strip()


def hash_value(value: Any) -> str | None:
    """sha256 hex of the stripped, lower-cased text; blank text gives ``None``.

    Unsalted on purpose: the same e-mail hashes the same in every source, so
    hashed customers still join across shop, network and analytics data.
    """
    # an int's text (a customer id) has no case and no surrounding space
    text = str(value) if value.__class__ is int else to_string(value).strip().lower()
    if not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_json(value: Any) -> Any:
    """The object encoded in JSON text; values that are already objects or lists pass as is."""
    if isinstance(value, str | bytes):
        if isinstance(value, str) and not value.strip():
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    return value


def split(value: Any, *, sep: str = ",") -> list[str]:
    """Text split at ``sep``; parts are stripped and empty parts dropped. Lists pass as is."""
    if isinstance(value, list):
        return value
    return [part.strip() for part in to_string(value).split(sep) if part.strip()]


def _check_sep(*, sep: str = ",") -> None:
    if not isinstance(sep, str) or not sep:
        raise ValueError("sep must be a non-empty text, e.g. ',' or '|'")


def join(value: Any, *, sep: str = ",") -> str:
    """A list's non-null items as text joined with ``sep``; text passes as is."""
    if isinstance(value, list):
        return sep.join(to_string(item) for item in value if item is not None)
    return to_string(value)


def first(value: Any) -> Any:
    """The first non-null item of a list (``None`` for an empty one); other values pass."""
    if isinstance(value, list):
        return next((item for item in value if item is not None), None)
    return value


def total(value: Any, *, places: int | None = None) -> Decimal | None:
    """The exact decimal sum of a list's items (``0`` for an empty list), e.g. discounts."""
    items: Iterable[Any] = value if value.__class__ is list or isinstance(value, list) else [value]
    result = _ZERO
    for item in items:
        if item is not None:
            # a money text read before is in the cache: what to_decimal would return
            number = _DECIMALS.get(item) if item.__class__ is str else None
            if number is None:
                number = to_decimal(item)
            if number is not None:
                result += number
    if places is None:
        return result
    if not items:  # nothing to add: zero with ``places`` decimals, made once
        zero = _ZEROS.get(places) if places.__class__ is int else None
        if zero is not None:
            return zero
    return _checked(result, places)


def query_param(value: Any, *, name: str | list[str]) -> str | None:
    """The first value of query parameter ``name`` (or the first of several names) in a URL.

    Works on relative URLs too (Shopify's ``landing_site`` is ``/path?awc=...``).
    """
    url = to_string(value)
    query = _QUERIES.get(url)
    if query is None:
        query = _first_params(url)
        if len(_QUERIES) >= _QUERIES_SIZE:
            _QUERIES.clear()
        _QUERIES[url] = query
    if isinstance(name, str):
        return query.get(name)
    for candidate in name:
        found = query.get(candidate)
        if found is not None:
            return found
    return None


#: URL -> its first value of each query parameter. Mappings often read several
#: parameters of one URL (utm_source and utm_medium of the landing page); the dicts
#: are shared, so they are only ever read. Bounded: emptied when full.
_QUERIES: dict[str, dict[str, str]] = {}
_QUERIES_SIZE = 256


def _first_params(url: str) -> dict[str, str]:
    """The first value of each query parameter of ``url`` (``parse_qs``, blanks dropped)."""
    first: dict[str, str] = {}
    if (
        url[:1] == "/"
        and url[:2] != "//"
        and "\t" not in url
        and "\r" not in url
        and "\n" not in url
    ):
        # A relative URL (Shopify's landing_site) without the tab and newlines
        # urlsplit deletes: it has no scheme and no host, urlsplit strips nothing,
        # and the query is what follows the first '?' before any '#'. The pairs
        # are read as parse_qsl reads them.
        query = url.partition("#")[0].partition("?")[2]
        for pair in query.split("&") if query else ():
            key, equals, found = pair.partition("=")
            if not equals or not found:  # 'k' and 'k=': blank, dropped
                continue
            key = key.replace("+", " ")
            if "%" in key:  # unquote returns text without '%' as it is
                key = unquote(key)
            if key not in first:
                found = found.replace("+", " ")
                first[key] = unquote(found) if "%" in found else found
        return first
    for key, found in parse_qsl(urlsplit(url).query, keep_blank_values=False):
        first.setdefault(key, found)
    return first


def _check_query_param(*, name: str | list[str]) -> None:
    names = [name] if isinstance(name, str) else name
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("name must be a parameter name or a list of names, e.g. awc")


_check_places = _check_decimal_args

setattr(to_decimal, "validate_args", _check_decimal_args)  # noqa: B010
setattr(total, "validate_args", _check_places)  # noqa: B010
setattr(to_timestamp, "validate_args", _check_timestamp_args)  # noqa: B010
setattr(split, "validate_args", _check_sep)  # noqa: B010
setattr(join, "validate_args", _check_sep)  # noqa: B010
setattr(query_param, "validate_args", _check_query_param)  # noqa: B010

BUILTIN_CONVERTERS: dict[str, Converter] = {
    "string": to_string,
    "int": to_int,
    "decimal": to_decimal,
    "timestamp": to_timestamp,
    "date": to_date,
    "bool": to_bool,
    "upper": upper,
    "lower": lower,
    "strip": strip,
    "hash": hash_value,
    "json": parse_json,
    "split": split,
    "join": join,
    "first": first,
    "sum": total,
    "query_param": query_param,
}

# Converters whose input is personal data: their input never appears in error messages.
SENSITIVE_CONVERTERS = frozenset({"hash"})
