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

import pytest

from connectors.shopify.converters import (
    shopify_customer_type,
    shopify_device,
    shopify_line_amount,
    user_agent_device,
)
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
    assert user_agent_device(agent) == reference_device(agent)


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
