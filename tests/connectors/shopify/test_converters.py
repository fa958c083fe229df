"""Fast paths of the Shopify converters give what the plain rules give.

``user_agent_device`` looks for plain words in lower-cased ASCII text and
uses the case-insensitive patterns otherwise; ``shopify_line_amount`` and
``shopify_customer_type`` skip work for plain dicts and ints. The behaviour
itself is specified in test_mapping.py; this checks both paths agree.
"""

from __future__ import annotations

import re
from collections import UserDict
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.shopify import converters as shopify_converters
from connectors.shopify.converters import (
    shopify_customer_type,
    shopify_device,
    shopify_landing_param,
    shopify_line_amount,
    shopify_refunded_amount,
    user_agent_device,
)
from hub.mapping import converters as hub_converters
from tests.connectors.shopify.samples import ANDROID_TABLET, IPHONE, MAC_SAFARI, WINDOWS_EDGE

_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|nexus (7|9|10)\b", re.IGNORECASE)
_MOBILE = re.compile(
    r"mobi|iphone|ipod|windows phone|blackberry|bb10|opera mini|iemobile|webos", re.IGNORECASE
)


def reference_device(value: Any) -> str | None:
    """The rule as first written: case-insensitive patterns on the text."""
    text = str(value).strip()
    if not text:
        return None
    if _TABLET.search(text) or (
        re.search("android", text, re.IGNORECASE) and "mobile" not in text.lower()
    ):
        return "tablet"
    if _MOBILE.search(text):
        return "mobile"
    return "desktop"


AGENTS = [
    MAC_SAFARI,
    IPHONE,
    ANDROID_TABLET,
    WINDOWS_EDGE,
    ANDROID_TABLET.replace("Safari", "Mobile Safari"),
    "Mozilla/5.0 (Linux; Android 4.4; Nexus 7 Build/KOT49H)",
    "Mozilla/5.0 (Linux; Android 4.4; Nexus 72)",  # not a Nexus 7: "Android" alone
    "NEXUS 10 tablet-ish",
    "Mozilla/5.0 (X11; Linux) Silk/93.1 like Chrome",
    "Opera/9.80 (J2ME/MIDP; OPERA MINI/9.80)",
    "Mozilla/5.0 (PlayBook; U; RIM Tablet OS 2.1.0)",
    "BlackBerry9700/5.0.0.862",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1) Edge/40.15254.603",
    "curl/8.4.0",
    "  ",
    "",
    12345,
    # not ASCII: the case-insensitive patterns (the Kelvin sign folds to 'k')
    "\u212aindle Fire",
    "Mozilla/5.0 (iPhone) Zürich-App",
    "Ünïcode desktop browser",
    "ANDROİD tablet",
]


@pytest.mark.parametrize("agent", AGENTS)
def test_user_agent_device_matches_the_plain_rule(agent: Any) -> None:
    shopify_converters._DEVICES.clear()
    for _ in range(2):  # worked out, then from the cache of texts already read
        assert user_agent_device(agent) == reference_device(agent)


def test_user_agent_cache_stays_bounded_and_keeps_only_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shopify_converters, "_DEVICES_SIZE", 3)
    shopify_converters._DEVICES.clear()
    for agent in AGENTS:
        assert user_agent_device(agent) == reference_device(agent)
        assert len(shopify_converters._DEVICES) <= 3
    assert all(key.__class__ is str for key in shopify_converters._DEVICES)
    shopify_converters._DEVICES.clear()
    user_agent_device(12345)  # not text: worked out each time, never kept
    assert shopify_converters._DEVICES == {}


def test_the_kelvin_sign_is_still_a_k() -> None:
    assert user_agent_device("\u212aindle Fire") == "tablet"


def test_device_of_orders_of_every_shape() -> None:
    assert shopify_device({"client_details": {"user_agent": IPHONE}}) == "mobile"
    assert shopify_device(UserDict({"client_details": {"user_agent": IPHONE}})) == "mobile"
    assert shopify_device({"client_details": None, "source_name": "pos"}) == "pos"
    assert shopify_device({"client_details": {"user_agent": None}}) is None


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (2, Decimal("17.80")),
        ("2", Decimal("17.80")),
        (2.0, Decimal("17.800")),
        (Decimal("2"), Decimal("17.80")),
    ],
)
def test_line_amount_for_every_kind_of_quantity(quantity: Any, expected: Decimal) -> None:
    line = {"price": "9.90", "quantity": quantity, "discount_allocations": [{"amount": "2.00"}]}
    found = shopify_line_amount(line)
    assert found == expected and str(found) == str(expected)
    assert shopify_line_amount(UserDict(line)) == found


def test_line_amount_odd_values() -> None:
    with pytest.raises(TypeError, match="not a number"):
        shopify_line_amount({"price": "1.00", "quantity": True})
    with pytest.raises(TypeError, match="not a number"):
        shopify_line_amount({"price": "1.00", "quantity": [1]})
    assert shopify_line_amount({"price": None, "quantity": 1}) is None
    assert shopify_line_amount({"price": " ", "quantity": 1}) is None
    lines = {
        "price": "5.00",
        "quantity": 1,
        "discount_allocations": [
            None,
            "x",
            {"amount": None},
            {"amount": "0.00"},
            UserDict({"amount": "1.50"}),
        ],
    }
    assert str(shopify_line_amount(lines)) == "3.50"
    with pytest.raises(TypeError, match="whole record"):
        shopify_line_amount("5.00")


@pytest.mark.parametrize(("window", "expected"), [(10, "new"), (1, "unknown"), (0, "unknown")])
def test_customer_type_windows(window: int, expected: str) -> None:
    order = {
        "created_at": "2025-03-14T16:20:05+01:00",
        "customer": {"created_at": "2025-03-14T15:15:05Z"},  # 5 minutes before
    }
    for _ in range(2):  # the window's timedelta is kept after the first call
        assert shopify_customer_type(order, window_minutes=window) == expected


def _outcome(function: Any, value: Any, **args: Any) -> tuple[str, str]:
    try:
        result = function(value, **args)
    except Exception as exc:  # the same error is the point
        return type(exc).__name__, str(exc)
    return type(result).__name__, repr(result)


def _forget_texts() -> None:
    for cache in (hub_converters._DECIMALS, hub_converters._INSTANTS, hub_converters._QUERIES):
        cache.clear()


ODD_MONEY: list[Any] = [
    "9.90",
    " 9.90 ",
    "",
    " ",
    "x",
    "NaN",
    "1e3",
    3,
    2.5,
    True,
    Decimal("1.2"),
    [],
    None,
]
ODD_TIMES: list[Any] = [
    "2025-03-14T16:20:05+01:00",
    "2025-03-14T15:15:05Z",
    "2025-03-14T16:20:05",  # no offset: not an instant
    "",
    " ",
    "nonsense",
    0,
    None,
    [],
]
LANDINGS: list[Any] = [
    "/p?utm_source=awin&utm_medium=affiliate",
    "/p?utm_source=+&utm_medium=%20x%20",
    "/p?utm_source=a&utm_source=b",
    "https://shop.example/?utm_medium=cpc",
    "/p?x=1\t&utm_source=t",
    "/p",
    "",
    None,
    7,
    ["/p?utm_source=a"],
]


@pytest.mark.parametrize("money", ODD_MONEY, ids=repr)
def test_money_read_from_the_cache_is_what_to_decimal_gives(money: Any) -> None:
    """Line amount and refunded amount take texts read before from to_decimal's cache."""
    cases = [
        (shopify_line_amount, {"price": money, "quantity": 2}),
        (
            shopify_line_amount,
            {"price": "1.00", "quantity": 1, "discount_allocations": [{"amount": money}]},
        ),
        (shopify_refunded_amount, {"total_price": money, "current_total_price": "1.00"}),
        (shopify_refunded_amount, {"total_price": "10.00", "current_total_price": money}),
    ]
    for function, record in cases:
        _forget_texts()
        first = _outcome(function, record)  # to_decimal reads the text (and caches it)
        second = _outcome(function, record)  # now from the cache
        _forget_texts()
        assert first == second, (function.__name__, record)


@pytest.mark.parametrize("customer_created", ODD_TIMES, ids=repr)
@pytest.mark.parametrize("order_created", ODD_TIMES[:3], ids=repr)
def test_instants_read_from_the_cache_are_what_to_timestamp_gives(
    customer_created: Any, order_created: Any
) -> None:
    order = {"created_at": order_created, "customer": {"created_at": customer_created}}
    _forget_texts()
    first = _outcome(shopify_customer_type, order, window_minutes=70)
    assert first == _outcome(shopify_customer_type, order, window_minutes=70)
    _forget_texts()


@pytest.mark.parametrize("landing", LANDINGS, ids=repr)
def test_landing_params_read_from_the_parsed_url_are_what_query_param_gives(
    landing: Any,
) -> None:
    order = {"landing_site": landing}
    names: list[Any] = ["utm_source", "utm_medium", ["utm_campaign", "utm_medium"], "missing"]
    _forget_texts()
    first = [_outcome(shopify_landing_param, order, name=name) for name in names]
    second = [_outcome(shopify_landing_param, order, name=name) for name in names]  # cached
    assert first == second
    if isinstance(landing, str) and landing:
        query = parse_qs(urlsplit(landing).query)
        for name, found in zip(names[:2], first[:2], strict=True):
            value = query[name][0].strip() if name in query else None
            assert found == ("str", repr(value)) if value else found == ("NoneType", "None")
    _forget_texts()
