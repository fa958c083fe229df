"""The sandbox shop's customers: names in several scripts, addresses, e-mail, consent.

A customer is identified by the index of the first order they placed (see
:meth:`~.data.ShopData.customer_key`) and built from the seed on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .basics import CUSTOMER_ID_BASE, SHOP_CURRENCY, mix64, shop_time

# country, currency, locale, tax rate (basis points), cities (city, zip, province, province_code)
COUNTRIES: dict[
    str, tuple[str, str, str, int, tuple[tuple[str, str, str | None, str | None], ...]]
] = {
    "DE": (
        "Germany",
        "EUR",
        "de",
        1900,
        (
            ("Berlin", "10115", "Berlin", "BE"),
            ("München", "80331", "Bavaria", "BY"),
            ("Köln", "50667", "North Rhine-Westphalia", "NW"),
        ),
    ),
    "AT": (
        "Austria",
        "EUR",
        "de-AT",
        2000,
        (("Wien", "1010", None, None), ("Innsbruck", "6020", None, None)),
    ),
    "CH": (
        "Switzerland",
        "CHF",
        "de-CH",
        810,
        (("Zürich", "8001", "Zürich", "ZH"), ("Genève", "1201", "Genève", "GE")),
    ),
    "GB": (
        "United Kingdom",
        "GBP",
        "en-GB",
        2000,
        (("London", "SW1A 1AA", "England", "ENG"), ("Edinburgh", "EH1 1YZ", "Scotland", "SCT")),
    ),
    "FR": (
        "France",
        "EUR",
        "fr",
        2000,
        (("Lyon", "69001", None, None), ("Chamonix-Mont-Blanc", "74400", None, None)),
    ),
    "NL": ("Netherlands", "EUR", "nl", 2100, (("Utrecht", "3511", "Utrecht", "UT"),)),
    "JP": (
        "Japan",
        "EUR",
        "ja",
        1000,
        (("東京都", "100-0001", "Tōkyō", "JP-13"), ("大阪市", "530-0001", "Ōsaka", "JP-27")),
    ),
}
_COUNTRY_WEIGHTS = ("DE",) * 10 + ("AT",) * 3 + ("CH",) * 3 + ("GB",) * 2 + ("FR", "NL", "JP")

# first name, last name, ASCII form for the e-mail address
_NAMES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "DE": (
        ("Jürgen", "Müller", "juergen.mueller"),
        ("Sophie", "Weiß", "sophie.weiss"),
        ("Lukas", "Groß", "lukas.gross"),
        ("Anna", "Schäfer", "anna.schaefer"),
        ("Özlem", "Yılmaz", "oezlem.yilmaz"),  # noqa: RUF001
        ("Jan", "Krüger", "jan.krueger"),
    ),
    "AT": (("Maximilian", "Höller", "maximilian.hoeller"), ("Lena", "Gruber", "lena.gruber")),
    "CH": (("Léa", "Zürcher", "lea.zuercher"), ("Noah", "Brändli", "noah.braendli")),
    "GB": (("Oliver", "Smith", "oliver.smith"), ("Amelia", "O'Connor", "amelia.oconnor")),
    "FR": (("Chloé", "Lefèvre", "chloe.lefevre"), ("Élodie", "Garçon", "elodie.garcon")),
    "NL": (("Daan", "de Vries", "daan.devries"), ("Saskia", "van den Berg", "saskia.vandenberg")),
    "JP": (
        ("太郎", "山田", "taro.yamada"),
        ("花子", "佐藤", "hanako.sato"),
        ("翔", "鈴木", "sho.suzuki"),
    ),
}
_STREETS = (
    "Bergstraße 12",
    "Am Hang 3a",
    "Seeweg 7",
    "Lindenallee 41",
    "Hauptstraße 1",
    "Rue du Mont 5",
    "1-2-3 Marunouchi",
    "12 Alpine Road",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A customer of the shop: who orders, from where, since when."""

    key: int  # index of the customer's first order
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    country: str
    address: dict[str, Any]
    created: int  # epoch seconds
    accepts_marketing: bool


def person(seed: int, key: int, first_order_created: int) -> Person:
    """Customer ``key`` (the index of their first order), a pure function of the seed."""
    h1 = mix64(mix64(seed * 8 + 3) ^ key)
    h2 = mix64(h1)
    u = [(h >> shift & 0xFFFF) / 65536 for h in (h1, h2) for shift in (0, 16, 32, 48)]
    country = _COUNTRY_WEIGHTS[int(u[0] * len(_COUNTRY_WEIGHTS))]
    names = _NAMES[country]
    first, last, ascii_name = names[int(u[1] * len(names))]
    cities = COUNTRIES[country][4]
    city, zip_code, province, province_code = cities[int(u[2] * len(cities))]
    phone = None if u[3] < 0.4 else f"+49 151 {1_000_000 + (h2 >> 8) % 9_000_000}"
    address = {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}" if country != "JP" else f"{last} {first}",
        "company": "Alpenverein Sektion Oberland e. V." if u[4] < 0.05 else None,
        "address1": _STREETS[int(u[5] * len(_STREETS))],
        "address2": None if u[6] < 0.8 else "2. OG links",
        "city": city,
        "zip": zip_code,
        "province": province,
        "province_code": province_code,
        "country": COUNTRIES[country][0],
        "country_code": country,
        "phone": phone,
        "latitude": None,
        "longitude": None,
    }
    return Person(
        key=key,
        id=CUSTOMER_ID_BASE + key,
        first_name=first,
        last_name=last,
        email=f"{ascii_name}.{key}@example.{_TLD.get(country, country.lower())}",
        phone=phone,
        country=country,
        address=address,
        created=first_order_created - 45,
        accepts_marketing=u[7] < 0.4,
    )


_TLD = {"GB": "co.uk", "JP": "jp"}


def customer_json(p: Person, updated: int) -> dict[str, Any]:
    """The customer as embedded in an order (no orders_count/total_spent since 2022-04)."""
    consent = "subscribed" if p.accepts_marketing else "not_subscribed"
    return {
        "id": p.id,
        "email": p.email,
        "created_at": shop_time(p.created),
        "updated_at": shop_time(updated),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "state": "enabled" if p.accepts_marketing else "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": p.phone,
        "email_marketing_consent": {
            "state": consent,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": shop_time(p.created) if p.accepts_marketing else None,
        },
        "sms_marketing_consent": None,
        "tags": "",
        "currency": SHOP_CURRENCY,
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{p.id}",
        "default_address": {
            "id": p.id + 1_000_000_000_000,
            "customer_id": p.id,
            **p.address,
            "country_name": p.address["country"],
            "default": True,
        },
    }
