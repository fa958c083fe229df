"""Shared basics of the sandbox shop: ids, hashing, the shop's clock and money format.

Every value in the sandbox is a pure function of the seed and an index, drawn
from these helpers, so order ``i`` or customer ``k`` can be built on demand
without a database. The shop is *Nordlicht Outdoor*, a German outdoor shop:
currency EUR, time zone Europe/Berlin.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

SHOP_NAME = "Nordlicht Outdoor"
SHOP_HANDLE = "nordlicht-outdoor"
SHOP_DOMAIN = f"{SHOP_HANDLE}.myshopify.com"
SHOP_ID = 66_123_456_789
SHOP_CURRENCY = "EUR"
SHOP_TIMEZONE = "Europe/Berlin"

ORDER_ID_BASE = 6_123_400_000_000
PRODUCT_ID_BASE = 9_100_000_000_000
VARIANT_ID_BASE = 48_100_000_000_000
INVENTORY_ITEM_ID_BASE = 50_200_000_000_000
CUSTOMER_ID_BASE = 7_788_000_000_000
LOCATION_ID = 71_234_567_890
POS_LOCATION_ID = 71_234_567_891
STAFF_USER_ID = 101_234_567


# --------------------------------------------------------------------------- clock

_MASK64 = (1 << 64) - 1


def mix64(value: int) -> int:
    """SplitMix64's finalizer: a fast, well-spread 64-bit hash of ``value``."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def rng(seed: int, space: int, index: int) -> random.Random:
    """The random stream of one object: ``space`` separates orders, products, customers.

    Only ``Random.random()`` is used on it: that is the one method whose
    sequence Python guarantees not to change across versions.
    """
    return random.Random(mix64(seed * 8 + space) ^ (index * 0x100000001B3))


def pick(r: random.Random, items: Any) -> Any:
    """One element of the sequence ``items``, uniformly."""
    return items[int(r.random() * len(items))]


def _last_sunday_01_utc(year: int, month: int) -> int:
    day = date(year, month, 31)
    day -= timedelta(days=(day.weekday() + 1) % 7)
    return int(datetime(day.year, day.month, day.day, 1, tzinfo=UTC).timestamp())


# EU summer time starts and ends at 01:00 UTC on the last Sundays of March and October.
_SUMMER = {
    year: (_last_sunday_01_utc(year, 3), _last_sunday_01_utc(year, 10))
    for year in range(2020, 2041)
}


#: The first order is created at this instant: 09:00 in Berlin the day before summer time
#: starts, so even a few hundred orders span both offsets (+01:00 and +02:00).
EPOCH_TS = int(datetime(2025, 3, 29, 8, 0, tzinfo=UTC).timestamp())


# Sorted switch instants: an odd bisect position means summer time (+02:00).
_SWITCHES = [instant for year in sorted(_SUMMER) for instant in _SUMMER[year]]


@lru_cache(maxsize=4096)
def _day(local_day: int) -> str:
    t = time.gmtime(local_day * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


def shop_time(ts: int) -> str:
    """The instant ``ts`` as Shopify writes it: ISO 8601 in the shop's offset (+01:00/+02:00)."""
    hours = 2 if bisect_right(_SWITCHES, ts) % 2 else 1
    local_day, second = divmod(ts + hours * 3600, 86_400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_day(local_day)}{hour:02d}:{minute:02d}:{second:02d}+0{hours}:00"


def parse_instant(text: str) -> int:
    """An ISO 8601 timestamp (any offset; none means UTC) as epoch seconds."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


# --------------------------------------------------------------------------- money


def money(cents: int) -> str:
    """Cents as Shopify's decimal string with two places: ``12290 -> "122.90"``.

    Exact for every amount below 2**53 cents: the float is the nearest double
    to the true value, far closer than the half cent the format rounds at.
    """
    return "%.2f" % (cents / 100)


@lru_cache(maxsize=4096)
def money_set(shop_cents: int, presentment_cents: int, presentment: str) -> dict[str, Any]:
    """The ``*_set`` twin of a money field: shop money (EUR) and presentment money.

    Cached, so the same amounts share one object: callers must not change it.
    """
    return {
        "shop_money": {"amount": money(shop_cents), "currency_code": SHOP_CURRENCY},
        "presentment_money": {"amount": money(presentment_cents), "currency_code": presentment},
    }


def ratio(cents: int, numerator: int, denominator: int) -> int:
    """``cents * numerator / denominator`` rounded half up, in integers (no floats)."""
    return (2 * cents * numerator + denominator) // (2 * denominator)


# Presentment currency units per 1 EUR, in 1/10,000, before the daily wobble.
_BASE_RATES = {"EUR": 10_000, "CHF": 9_412, "GBP": 8_437}


def exchange_rate(currency: str, ts: int) -> int:
    """Units of ``currency`` per EUR on the day of ``ts``, in 1/10,000 (a little daily drift)."""
    if currency == SHOP_CURRENCY:
        return 10_000
    day = ts // 86_400
    return _BASE_RATES[currency] + (day * 37) % 61 - 30


def shop_json() -> dict[str, Any]:
    """``GET /shop.json``'s shop: currency EUR, time zone Europe/Berlin."""
    since = "2021-04-12T09:30:00+02:00"
    return {
        "id": SHOP_ID,
        "name": SHOP_NAME,
        "email": "shop@nordlicht-outdoor.example",
        "domain": "www.nordlicht-outdoor.example",
        "province": "Bavaria",
        "country": "DE",
        "address1": "Bergstraße 12",
        "zip": "80331",
        "city": "München",
        "source": None,
        "phone": "+49 89 1234567",
        "latitude": 48.1372,
        "longitude": 11.5755,
        "primary_locale": "de",
        "address2": "",
        "created_at": since,
        "updated_at": since,
        "country_code": "DE",
        "country_name": "Germany",
        "currency": SHOP_CURRENCY,
        "customer_email": "hallo@nordlicht-outdoor.example",
        "timezone": "(GMT+01:00) Europe/Berlin",
        "iana_timezone": SHOP_TIMEZONE,
        "shop_owner": "Jürgen Müller",
        "money_format": "{{amount_with_comma_separator}} €",
        "money_with_currency_format": "{{amount_with_comma_separator}} € EUR",
        "weight_unit": "kg",
        "province_code": "BY",
        "taxes_included": True,
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": "Basic",
        "plan_name": "basic",
        "has_discounts": True,
        "has_gift_cards": True,
        "myshopify_domain": SHOP_DOMAIN,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": "{{amount_with_comma_separator}} €",
        "money_with_currency_in_emails_format": "{{amount_with_comma_separator}} € EUR",
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": False,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": LOCATION_ID,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": ["CHF", "EUR", "GBP"],
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
        "admin_graphql_api_id": f"gid://shopify/Shop/{SHOP_ID}",
    }
