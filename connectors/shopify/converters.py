"""Converters the Shopify mapping uses (``convert: <name>`` in mappings/shopify.yaml).

Each one derives a canonical value from the record alone, so it lives in the
mapping (where a merchant can override it) and not in the stream. Those that
take the whole order (``path: $``) read fields without *placing* them: the
fields they read stay in ``extra``. What needs the connection's settings, an
extra API call or personal data is computed by the stream instead and arrives
under the record's ``_hub`` key (see ``connectors.shopify.streams``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from hub.mapping.converters import query_param, to_decimal, to_timestamp

_TABLET_WORDS = ("ipad", "tablet", "kindle", "silk/", "playbook")
_NEXUS_TABLET = r"nexus (7|9|10)\b"
_MOBILE_WORDS = (
    "mobi", "iphone", "ipod", "windows phone", "blackberry", "bb10", "opera mini", "iemobile",
    "webos",
)  # fmt: skip
_TABLET = re.compile("|".join([*map(re.escape, _TABLET_WORDS), _NEXUS_TABLET]), re.IGNORECASE)
_MOBILE = re.compile("|".join(map(re.escape, _MOBILE_WORDS)), re.IGNORECASE)
_ANDROID = re.compile(r"android", re.IGNORECASE)
# For ASCII text (nearly every user agent) lower-casing first and looking for the
# plain words finds exactly what the case-insensitive patterns find, several times
# faster.
_NEXUS_LOWER = re.compile(_NEXUS_TABLET)

#: How long before the order a customer record may have been created and still count as
#: created *by* this order's checkout (Shopify creates the customer when the order is placed).
NEW_CUSTOMER_WINDOW_MINUTES = 10
#: Shopify's variant title for products without options.
DEFAULT_VARIANT_TITLE = "Default Title"

_ZERO = Decimal(0)
#: window_minutes -> its timedelta (a mapping names one or two windows).
_WINDOWS: dict[int, timedelta] = {}
_NO_MONEY = Decimal("0.00")


def user_agent_device(value: Any) -> str | None:
    """``mobile``, ``tablet`` or ``desktop`` from a browser user agent; blank gives null.

    Android without "Mobile" is a tablet (Google's convention). iPads on iPadOS 13+
    send a desktop Safari user agent and are counted as desktop: nothing in the
    text tells them apart.
    """
    if value.__class__ is str:
        known = _DEVICES.get(value, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        device = _device(value)
        if len(_DEVICES) >= _DEVICES_SIZE:
            _DEVICES.clear()
        _DEVICES[value] = device
        return device
    return _device(value)


#: User agent text -> its device. Many orders come from the same few browser versions
#: and the answer depends on the text alone, so each text is read once. Bounded:
#: emptied when full.
_DEVICES: dict[str, str | None] = {}
_DEVICES_SIZE = 256
_UNKNOWN = object()


def _device(value: Any) -> str | None:
    """What :func:`user_agent_device` says, worked out from the text."""
    text = str(value).strip()
    if not text:
        return None
    if text.isascii():
        lower = text.lower()
        if (
            _has_word(lower, _TABLET_WORDS)
            or ("nexus " in lower and _NEXUS_LOWER.search(lower))
            or ("android" in lower and "mobile" not in lower)
        ):
            return "tablet"
        return "mobile" if _has_word(lower, _MOBILE_WORDS) else "desktop"
    if _TABLET.search(text) or (_ANDROID.search(text) and "mobile" not in text.lower()):
        return "tablet"
    if _MOBILE.search(text):
        return "mobile"
    return "desktop"


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    for word in words:  # noqa: SIM110 - any() over a generator is much slower here
        if word in text:
            return True
    return False


def shopify_device(order: Any) -> str | None:
    """The buyer's device of an order: from ``client_details.user_agent``, else ``pos``.

    POS orders carry no client details; the till is not the buyer's device, so
    they get ``pos`` rather than a guess. Other orders without a user agent
    (API, draft orders) get null.
    """
    record = _mapping(order, "shopify_device")
    details = record.get("client_details")
    agent = details.get("user_agent") if _is_mapping(details) else None
    device = user_agent_device(agent) if agent is not None else None
    if device is None and record.get("source_name") == "pos":
        return "pos"
    return device


def shopify_order_status(order: Any) -> str:
    """``cancelled`` when the order has ``cancelled_at``, else ``pending``.

    A shop does not approve or decline sales for partners: that is the
    network's (or the merchant's validation) decision, so every order that is
    not cancelled is pending. ``cancelled_at`` itself stays in ``extra``.
    """
    record = _mapping(order, "shopify_order_status")
    return "cancelled" if record.get("cancelled_at") else "pending"


def shopify_customer_type(order: Any, *, window_minutes: int = NEW_CUSTOMER_WINDOW_MINUTES) -> str:
    """``new`` when the order's customer record was created with this order, else ``unknown``.

    Since API version 2022-04 the customer embedded in an order no longer has
    ``orders_count``. What is left that tells: Shopify creates the customer
    record when its first order is placed (guest checkouts included), so a
    customer created at most ``window_minutes`` before the order cannot have
    ordered before. A customer created earlier may have ordered before, or may
    only have signed up for an account or a newsletter: the order alone cannot
    tell, so it is ``unknown`` rather than a guessed ``returning``.
    """
    record = _mapping(order, "shopify_customer_type")
    customer = record.get("customer")
    if not _is_mapping(customer):
        return "unknown"
    customer_created = _instant(customer.get("created_at"))
    order_created = _instant(record.get("created_at"))
    if customer_created is None or order_created is None:
        return "unknown"
    window = _WINDOWS.get(window_minutes)
    if window is None:
        window = _WINDOWS[window_minutes] = timedelta(minutes=window_minutes)
    if customer_created >= order_created - window:
        return "new"
    return "unknown"


def _check_window(*, window_minutes: int = NEW_CUSTOMER_WINDOW_MINUTES) -> None:
    if not isinstance(window_minutes, int) or isinstance(window_minutes, bool):
        raise ValueError("window_minutes must be a whole number of minutes, e.g. 10")
    if window_minutes < 0:
        raise ValueError("window_minutes must not be negative")


def shopify_refunded_amount(order: Any) -> Decimal | None:
    """What refunds and edits took off the order, in **shop** currency.

    ``total_price - current_total_price``: both are shop money, and Shopify
    itself lowers ``current_total_price`` by every refund (lines, shipping,
    tax, duties, arbitrary amounts) and order edit. Summing the refund
    ``transactions[].amount`` instead would be wrong on multi-currency orders:
    those are in the *presentment* currency. Never negative (an edit that adds
    items raises the current total; nothing was refunded then). A cancelled
    order reaches a current total of 0, so its whole amount counts as taken
    back even when only an authorisation was voided. Null when either total
    is missing.
    """
    record = _mapping(order, "shopify_refunded_amount")
    original = _money(record.get("total_price"))
    remaining = _money(record.get("current_total_price"))
    if original is None or remaining is None:
        return None
    return max(original - remaining, _NO_MONEY)


def shopify_line_amount(line: Any) -> Decimal | None:
    """A line item's revenue in shop currency: ``price x quantity - discount allocations``.

    Includes tax when the order has ``taxes_included``; refunds are not
    subtracted (they are in ``refunded_quantity``).
    """
    item = line if line.__class__ is dict else _mapping(line, "shopify_line_amount")
    price = item.get("price")
    if price is not None:
        price = to_decimal(price)
    quantity = item.get("quantity")
    if price is None or quantity is None:
        return None
    if quantity.__class__ is int:  # the usual case; Decimal(n) == Decimal(str(n)) for an int
        count = Decimal(quantity)
    elif isinstance(quantity, bool) or not isinstance(quantity, int | float | str | Decimal):
        raise TypeError(f"quantity {quantity!r} is not a number")
    else:
        count = Decimal(str(quantity))
    discount = _ZERO
    for allocation in item.get("discount_allocations") or ():
        if allocation.__class__ is dict or isinstance(allocation, Mapping):
            amount = allocation.get("amount")
            discount += (None if amount is None else to_decimal(amount)) or _ZERO
    return price * count - discount


def shopify_landing_param(order: Any, *, name: str | list[str]) -> str | None:
    """Query parameter ``name`` of the order's ``landing_site`` (relative URL), or null.

    Reads ``landing_site`` without placing it, so the full landing URL stays
    in ``extra`` (``query_param`` on the path itself would remove it).
    """
    record = _mapping(order, "shopify_landing_param")
    landing = record.get("landing_site")
    if not landing:
        return None
    found = query_param(landing, name=name)  # parsed once for utm_source and utm_medium
    if found is None:
        return None
    return found.strip() or None


def _check_name(*, name: str | list[str]) -> None:
    names = [name] if isinstance(name, str) else name
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("name must be a parameter name or a list of names, e.g. utm_source")


def shopify_variant_title(product: Any) -> str | None:
    """``"<product title> - <variant title>"``; the product title alone for single-variant
    products (variant title ``Default Title``) or a blank variant title."""
    record = _mapping(product, "shopify_variant_title")
    title = str(record.get("title") or "").strip()
    variant = record.get("variant")
    variant_title = str(variant.get("title") or "").strip() if isinstance(variant, Mapping) else ""
    if variant_title in ("", DEFAULT_VARIANT_TITLE):
        return title or None
    return f"{title} - {variant_title}" if title else variant_title


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return value.__class__ is dict or isinstance(value, Mapping)


def _mapping(value: Any, converter: str) -> Mapping[str, Any]:
    if value.__class__ is dict:  # records are plain dicts; the ABC check is slow
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{converter} reads a whole record (path: $), got {type(value).__name__}")
    return value


def _money(value: Any) -> Decimal | None:
    """A money value (Shopify sends decimal strings, inside refunds also numbers)."""
    return None if value is None else to_decimal(value)


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return to_timestamp(value)
    except (TypeError, ValueError):
        return None


setattr(shopify_customer_type, "validate_args", _check_window)  # noqa: B010
setattr(shopify_landing_param, "validate_args", _check_name)  # noqa: B010

#: Registered through ``hub_register_converters`` (names are unique across plugins).
CONVERTERS: dict[str, Callable[..., Any]] = {
    "user_agent_device": user_agent_device,
    "shopify_device": shopify_device,
    "shopify_order_status": shopify_order_status,
    "shopify_customer_type": shopify_customer_type,
    "shopify_refunded_amount": shopify_refunded_amount,
    "shopify_line_amount": shopify_line_amount,
    "shopify_landing_param": shopify_landing_param,
    "shopify_variant_title": shopify_variant_title,
}
