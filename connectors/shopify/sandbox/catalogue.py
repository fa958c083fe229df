"""The sandbox shop's product catalogue: 40 products with their variants, from the seed.

SKUs follow the shop's scheme (``FOEHN-JKT-M``); some variants share a SKU (a
relisted 2026 edition), one has ``""``, one ``null``, gift cards have none;
most variants carry an EAN-13 barcode. Order line items copy their variants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .basics import (
    EPOCH_TS,
    INVENTORY_ITEM_ID_BASE,
    PRODUCT_ID_BASE,
    VARIANT_ID_BASE,
    money,
    rng,
    shop_time,
)

# code, title, product_type, price in cents, option name, option values, grams
_TEMPLATES: tuple[tuple[str, str, str, int, str, tuple[str, ...], int], ...] = (
    (
        "ALP-RUCK-28",
        "Tagesrucksack Alpsee 28 l",
        "Rucksäcke",
        11990,
        "Farbe",
        ("Blau", "Grün", "Schwarz"),
        950,
    ),
    ("FOEHN-JKT", "Wanderjacke Föhn", "Jacken", 18990, "Größe", ("S", "M", "L", "XL"), 620),
    ("GAEMSE-HOSE", "Softshellhose Gämse", "Hosen", 8990, "Größe", ("S", "M", "L"), 480),
    ("ZUGSP-SHIRT", "Merino-Shirt Zugspitze", "Shirts", 5490, "Größe", ("S", "M", "L", "XL"), 180),
    ("GRAT-STOCK", "Trekkingstöcke Grat (Paar)", "Zubehör", 6990, "Title", ("Default Title",), 520),
    ("MOND-LAMPE", "Stirnlampe Mondschein", "Zubehör", 3490, "Title", ("Default Title",), 90),
    (
        "HUETTE-SACK",
        "Schlafsack Hütte −5 °C",  # noqa: RUF001
        "Schlafsäcke",
        14990,
        "Länge",
        ("Regular", "Long"),
        1350,
    ),
    (
        "GLUECK-KANNE",
        "Thermoskanne Gipfelglück 0,75 l",
        "Zubehör",
        2990,
        "Farbe",
        ("Rot", "Weiß"),
        400,
    ),
    ("SOCKE-3P", "Wandersocken (3er-Pack)", "Socken", 1990, "Größe", ("39–42", "43–46"), 150),  # noqa: RUF001
    ("NEBEL-PONCHO", "Regenponcho Nebelhorn", "Jacken", 3990, "Title", ("Default Title",), 300),
    (
        "MATCHA-FL",
        "抹茶ボトル Matcha-Trinkflasche",
        "Zubehör",
        2490,
        "Title",
        ("Default Title",),
        250,
    ),
    ("FINK-MUETZE", "Mütze Schneefink ❄️", "Mützen", 2490, "Farbe", ("Grau", "Petrol"), 80),
    ("EIGER-SEIL", "Kletterseil Eiger 60 m", "Klettern", 17990, "Title", ("Default Title",), 3800),
    ("GAS-230", "Gaskartusche 230 g", "Kochen", 690, "Title", ("Default Title",), 370),
    ("BERGW-SET", "Erste-Hilfe-Set Bergwacht", "Zubehör", 2290, "Title", ("Default Title",), 290),
    ("GUTSCHEIN", "Geschenkgutschein", "Gutscheine", 2500, "Wert", ("25 €", "50 €", "100 €"), 0),
    ("STERN-ZELT", "Zelt Sternenzelt 2P", "Zelte", 29990, "Farbe", ("Grün", "Sand"), 2100),
    (
        "GLETSCH-HAND",
        "Fleecehandschuhe Gletscher",
        "Handschuhe",
        2990,
        "Größe",
        ("S/M", "L/XL"),
        110,
    ),
    ("TRINK-2L", "Trinkblase Quelle 2 l", "Zubehör", 2790, "Title", ("Default Title",), 190),
    (
        "FJELL-SCHUH",
        "Wanderschuh Fjell GTX",
        "Schuhe",
        16990,
        "Größe",
        ("40", "41", "42", "43", "44", "45"),
        1150,
    ),
)

#: Products in the catalogue: every template as the classic model and as the 2026 edition.
PRODUCT_COUNT = 2 * len(_TEMPLATES)
_GIFT_CARD = "GUTSCHEIN"
_BLANK_SKU = "GAS-230"  # its classic variant has sku "" (and the 2026 edition sku null)
_RELISTED = ("GAEMSE-HOSE", "SOCKE-3P")  # the 2026 edition's first variant reuses the SKU


@dataclass(frozen=True, slots=True)
class Variant:
    """One sellable variant: what an order's line item copies from the catalogue."""

    id: int
    product_id: int
    product_title: str
    title: str
    sku: str | None
    price: int  # cents, shop currency
    grams: int
    vendor: str
    taxable: bool
    requires_shipping: bool
    gift_card: bool
    barcode: str | None


def _ascii(text: str) -> str:
    table = str.maketrans(
        {
            "ä": "AE",
            "ö": "OE",
            "ü": "UE",
            "ß": "SS",
            "Ä": "AE",
            "Ö": "OE",
            "Ü": "UE",
            "–": "-",  # noqa: RUF001
            "/": "-",
            " ": "",
            "€": "",
            "é": "E",
        }
    )
    return text.translate(table).upper()


def _ean13(r: random.Random) -> str:
    digits = [4, 0] + [int(r.random() * 10) for _ in range(10)]
    check = (10 - sum(d * (3 if n % 2 else 1) for n, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


def _price(base: int, r: random.Random, edition: int) -> int:
    euros = base * (100 + 25 * edition + int(r.random() * 11) - 5) // 10_000
    return max(euros, 1) * 100 + 90


@lru_cache(maxsize=16)
def catalogue(seed: int) -> tuple[tuple[dict[str, Any], ...], tuple[Variant, ...]]:
    """The shop's products (REST shape, with variants) and a flat tuple of their variants.

    40 products, about 90 variants: small, so it is built once per seed and
    kept. SKUs follow the shop's scheme (``FOEHN-JKT-M``); some variants share
    a SKU (a relisted 2026 edition), one has ``""``, one ``null``, gift cards
    have none; most variants carry an EAN-13 barcode.
    """
    products: list[dict[str, Any]] = []
    variants: list[Variant] = []
    epoch = EPOCH_TS - 200 * 86_400
    for j in range(PRODUCT_COUNT):
        code, title, kind, base, option, values, grams = _TEMPLATES[j % len(_TEMPLATES)]
        edition = j // len(_TEMPLATES)
        r = rng(seed, 2, j)
        product_id = PRODUCT_ID_BASE + j
        product_title = title if edition == 0 else f"{title} – Edition 2026"  # noqa: RUF001
        created = epoch + j * 86_400 + int(r.random() * 40_000)
        updated = created + int(r.random() * 90 * 86_400)
        vendor = "Nordlicht" if r.random() < 0.7 else "Bergwerk Outfitters"
        status = "active" if j % 13 != 12 else ("archived" if edition == 0 else "draft")
        product_variants = []
        for v, value in enumerate(values):
            vid = VARIANT_ID_BASE + j * 10 + v
            sku: str | None = f"{code}{'-26' if edition else ''}"
            if len(values) > 1:
                sku = f"{sku}-{_ascii(value)}"
            if code == _GIFT_CARD:
                sku = None
                price = base * (1, 2, 4)[v]
            else:
                price = _price(base, r, edition)
            if code == _BLANK_SKU:
                sku = "" if edition == 0 else None
            if code in _RELISTED and edition == 1 and v == 0:
                sku = f"{code}-{_ascii(value)}"
            barcode = None if code == _GIFT_CARD or r.random() < 0.1 else _ean13(r)
            gift = code == _GIFT_CARD
            variant = Variant(
                id=vid,
                product_id=product_id,
                product_title=product_title,
                title=value,
                sku=sku,
                price=price,
                grams=grams,
                vendor=vendor,
                taxable=not gift,
                requires_shipping=not gift,
                gift_card=gift,
                barcode=barcode,
            )
            variants.append(variant)
            compare_at = money(price * 115 // 100 // 100 * 100 + 90) if r.random() < 0.3 else None
            product_variants.append(
                {
                    "id": vid,
                    "product_id": product_id,
                    "title": value,
                    "price": money(price),
                    "sku": sku,
                    "position": v + 1,
                    "inventory_policy": "deny" if not gift else "continue",
                    "compare_at_price": compare_at,
                    "fulfillment_service": "manual",
                    "inventory_management": None if gift else "shopify",
                    "option1": value,
                    "option2": None,
                    "option3": None,
                    "created_at": shop_time(created),
                    "updated_at": shop_time(updated),
                    "taxable": not gift,
                    "barcode": barcode,
                    "grams": grams,
                    "image_id": None,
                    "weight": grams / 1000,
                    "weight_unit": "kg",
                    "inventory_item_id": INVENTORY_ITEM_ID_BASE + j * 10 + v,
                    "inventory_quantity": int(r.random() * 80),
                    "old_inventory_quantity": int(r.random() * 80),
                    "requires_shipping": not gift,
                    "admin_graphql_api_id": f"gid://shopify/ProductVariant/{vid}",
                }
            )
        handle = _ascii(product_title).lower().replace("(", "").replace(")", "")
        products.append(
            {
                "id": product_id,
                "title": product_title,
                "body_html": f"<p>{product_title}: gemacht für lange Tage am Berg.</p>",
                "vendor": vendor,
                "product_type": kind,
                "created_at": shop_time(created),
                "handle": f"{handle}-{j}",
                "updated_at": shop_time(updated),
                "published_at": None if status == "draft" else shop_time(created + 3600),
                "template_suffix": None,
                "published_scope": "global",
                "tags": ", ".join(sorted({kind.lower(), "outdoor", vendor.lower()})),
                "status": status,
                "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
                "variants": product_variants,
                "options": [
                    {
                        "id": PRODUCT_ID_BASE * 2 + j,
                        "product_id": product_id,
                        "name": option,
                        "position": 1,
                        "values": list(values),
                    }
                ],
                "images": [],
                "image": None,
            }
        )
    return tuple(products), tuple(variants)
