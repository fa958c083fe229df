"""The online part of an order: the buyer's browser, landing page and partner click ids.

Storefront scripts put affiliate click ids into the cart's ``note_attributes``
(apis.md 1.8), and the landing page's query keeps them too, unless it was not
an affiliate visit at all. The mix here is what a connector must cope with:
an Awin ``awc`` in both places or only in ``landing_site``, another network's
id only in the attributes, a ``click_id`` only in the query, Google Ads
``gclid``s, and visits with no click id.
"""

from __future__ import annotations

import random
from typing import Any

from .basics import pick

DAY = 86_400

_GIFT_MESSAGES = (
    "Alles Gute zum Geburtstag! 🎂⛰️",
    "Frohe Weihnachten 🎄",
    "Für die nächste Tour 🥾✨",
    "お誕生日おめでとう 🎉",
)
_AGENTS = (  # user agent, screen width, height: phones, tablets, desktops
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        390,
        844,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        412,
        915,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        820,
        1180,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
        800,
        1280,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        1920,
        1080,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        1440,
        900,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 1600, 1000),
)
_LANGUAGES = {
    "DE": "de-DE,de;q=0.9,en;q=0.8",
    "AT": "de-AT,de;q=0.9",
    "CH": "de-CH,de;q=0.9",
    "GB": "en-GB,en;q=0.9",
    "FR": "fr-FR,fr;q=0.9,en;q=0.5",
    "NL": "nl-NL,nl;q=0.9",
    "JP": "ja-JP,ja;q=0.9,en;q=0.6",
}
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SPREAD = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: spreads 53 random bits over 128
_MASK128 = (1 << 128) - 1


def hex_token(r: random.Random) -> str:
    """32 hex digits (a Shopify token) from one draw of ``r``: cheap and opaque."""
    return f"{(int(r.random() * (1 << 53)) * _SPREAD) & _MASK128:032x}"


def alnum_token(r: random.Random, length: int) -> str:
    """``length`` (at most 25) characters of an unambiguous upper-case alphabet."""
    h = (int(r.random() * (1 << 53)) * _SPREAD) & _MASK128
    out = []
    for _ in range(length):
        h, digit = divmod(h, 32)
        out.append(_ALNUM[digit])
    return "".join(out)


def web_session(
    r: random.Random, country: str, created: int
) -> tuple[dict[str, Any], str, str | None, list[dict[str, str]]]:
    """client_details, landing_site, referring_site and note_attributes of an online order."""
    agent, width, height = pick(r, _AGENTS)
    if r.random() < 0.7:
        ip = f"192.0.2.{1 + int(r.random() * 250)}"
    else:
        ip = f"2001:db8::{int(r.random() * 65535):x}"
    client = {
        "accept_language": _LANGUAGES[country],
        "browser_height": height if r.random() < 0.5 else None,
        "browser_ip": ip,
        "browser_width": width if r.random() < 0.5 else None,
        "session_hash": hex_token(r) if r.random() < 0.3 else None,
        "user_agent": agent,
    }
    handle = pick(r, ("tagesrucksack-alpsee-28-l-0", "wanderjacke-foehn-1", "", "sale"))
    path = f"/products/{handle}" if handle and handle != "sale" else f"/{handle}"
    notes: list[dict[str, str]] = []
    x = r.random()
    referrer: str | None
    if x < 0.45:  # an Awin click; the storefront script saved it as a cart attribute, or not
        awc = f"15880_{created - 60 - int(r.random() * 7 * DAY)}_{hex_token(r)}"
        landing = f"{path}?awc={awc}&utm_source=awin&utm_medium=affiliate"
        referrer = "https://www.awin1.com/"
        if x < 0.30:
            notes.append({"name": "awc", "value": awc})
    elif x < 0.50:  # another network's id, only in the cart attributes
        landing, referrer = path, "https://www.bergblog.example/"
        notes.append({"name": "iclid", "value": f"ICL-{alnum_token(r, 20)}"})
    elif x < 0.55:  # a click id only in the landing page's query
        landing, referrer = f"{path}?click_id={hex_token(r)[:24]}", "https://deals.example/"
    elif x < 0.70:  # Google Ads
        landing = f"{path}?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ{alnum_token(r, 22)}"
        referrer = "https://www.google.com/"
    else:
        landing = path
        referrer = pick(r, (None, "https://www.instagram.com/", "android-app://com.google"))
    if r.random() < 0.15:
        message = {"name": "Geschenknachricht", "value": pick(r, _GIFT_MESSAGES)}
        notes.insert(int(r.random() * 2), message)
    if r.random() < 0.05:
        notes.append({"name": "配達メモ", "value": "午前中に配達してください 🙏"})
    return client, landing, referrer, notes
