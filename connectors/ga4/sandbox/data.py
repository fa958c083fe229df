"""Deterministic GA4 data: sessions, purchases and purchased items per day and traffic cell.

A *cell* is one day and one combination of the session dimensions the
reference lists (``sessionSource``, ``sessionMedium``, ``sessionCampaignName``,
``sessionManualAdContent``, ``deviceCategory``, ``country``/``countryId``): its
sessions and its purchases, each purchase with a transaction id, a value and
its items. :meth:`GA4Data.day` is day ``index``'s cells as GA4 will finally
report them, a pure function of ``(seed, index)`` (and, for the transaction
numbers, of the days before it); :meth:`GA4Data.visible` is the part of a cell
GA4 has processed when the day is ``age`` days old (GA4 revises recent days,
apis.md 3.8). Tests compute their expectations from these functions, never
from the server.

Money is integer cents here; the report renders sums as GA4 does, by adding
Python floats (``cents / 100``) one purchase or item at a time in the order
:meth:`GA4Data.day` lists them, so ``"241.3"``, ``"96"`` and sums with binary
noise such as ``"1024.7000000000001"`` come out as they would from GA4
(:func:`render_currency`).

Transaction ids are the decimal strings of consecutive numbers from
``first_transaction`` (default 1001, the Shopify sandbox's first order number,
so ids look like ``"2042"``) in the order purchases occur: day by day, cell by
cell, purchase by purchase. Only the numbering scheme matches the Shopify
sandbox; dates and amounts do not. About one purchase in 40 was sent without
a ``transaction_id`` and reports ``"(not set)"``; its number is skipped.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TypeVar

PROPERTY_ID = 409876543
TIME_ZONE = "Europe/Vienna"
CURRENCY = "EUR"
FIRST_TRANSACTION = 1001
NOT_SET = "(not set)"
#: sessions a day over all cells, on average
DAILY_SESSIONS = 480
#: a day is final when its age plus the sandbox's revisions reaches this many days
SETTLE_DAYS = 3
#: the share (per cent) of a cell's sessions processed at effective age 0, 1, 2
_SESSION_SHARE = (60, 85, 95)
#: purchases up to this value (cents) pay shipping
_FREE_SHIPPING_FROM = 5000
SHIPPING = 490
_T = TypeVar("_T")


@dataclass(frozen=True)
class Channel:
    """The session's traffic source as GA4 reports it, with the channel's share of traffic."""

    source: str
    medium: str
    campaign: str
    ad_content: str
    weight: int
    #: purchases per thousand sessions
    conversion: int


CHANNELS = (
    Channel("google", "organic", "(organic)", NOT_SET, 30, 16),
    Channel("(direct)", "(none)", "(direct)", NOT_SET, 20, 26),
    Channel("awin", "affiliate", "wanderwelt-magazin", NOT_SET, 8, 40),
    Channel("awin", "affiliate", "gutscheinwelt", "voucher-10", 6, 55),
    Channel("www.awin1.com", "referral", "(referral)", NOT_SET, 2, 20),
    Channel("bergsteiger-forum.example", "referral", "(referral)", NOT_SET, 4, 10),
    Channel("google", "cpc", "fruehling_2025", "rucksack-anzeige-a", 10, 22),
    Channel("newsletter", "email", "newsletter_kw12", "hero-banner", 5, 30),
    Channel(NOT_SET, NOT_SET, NOT_SET, NOT_SET, 3, 12),
)
DEVICES = (("desktop", 45), ("mobile", 45), ("tablet", 10))
#: (country, countryId, weight); GA4 reports an unknown country as "(not set)" in both [B]
COUNTRIES = (
    ("Austria", "AT", 45),
    ("Germany", "DE", 30),
    ("Switzerland", "CH", 12),
    ("United Kingdom", "GB", 8),
    (NOT_SET, NOT_SET, 5),
)


@dataclass(frozen=True)
class Product:
    #: None: sent without ``item_id`` (GA4 reports ``itemId`` "(not set)")
    item_id: str | None
    name: str
    category: str
    price_cents: int


#: prices chosen so that "241.3", "96" and "25.1" occur as single values
CATALOGUE = (
    Product("ALP-RUCK-28", "Tagesrucksack Alpsee 28 l", "Rucksäcke", 8995),
    Product("KAR-GTX-42", "Wanderschuh Karwendel GTX", "Schuhe", 15990),
    Product("TRINK-075", "Trinkflasche 0,75 l", "Zubehör", 2510),
    Product("LUM-300", "Stirnlampe Lumen 300", "Zubehör", 3490),
    Product("ZUG-SOFT-M", "Softshelljacke Zugspitze", "Jacken", 9600),
    Product("MER-SOCK-2", "Merino-Socken 2er-Pack", "Zubehör", 1990),
    Product("GLE-ZELT-2", "Zelt Gletscher 2P", "Zelte", 24130),
    Product("RAX-FLEECE-L", "Fleecejacke Rax", "Jacken", 4950),
    # two items without an id: two itemId "(not set)" rows that differ by name
    Product(None, "Geschenkgutschein 50 €", NOT_SET, 5000),
    Product(None, "Reparaturservice Schuhe", "Service", 2900),
)
#: the only item of a zero-value purchase (a prize): counts in ecommercePurchases, not transactions
FREE_PRODUCT = Product("GRATIS-FLASCHE", "Gratis-Trinkflasche (Gewinnspiel)", "Zubehör", 0)


@dataclass(frozen=True)
class Item:
    """One entry of a purchase's ``items[]``."""

    item_id: str  # "(not set)" when the event had none
    name: str
    category: str
    price_cents: int
    quantity: int

    @property
    def revenue_cents(self) -> int:
        """``itemRevenue``: price times quantity."""
        return self.price_cents * self.quantity


@dataclass(frozen=True)
class Purchase:
    """One ``purchase`` event."""

    #: its place in the numbering (``first_transaction + k``), also when the id was not sent
    number: int
    #: ``transactionId`` as reported: the number as a string, or "(not set)"
    transaction_id: str
    value_cents: int
    items: tuple[Item, ...]
    #: days after the purchase's day until GA4 has processed it (0 to 2)
    lag: int


@dataclass(frozen=True)
class Cell:
    """One day's traffic of one dimension combination, as GA4 will finally report it."""

    day: date
    channel: Channel
    device: str
    country: str
    country_id: str
    sessions: int
    purchases: tuple[Purchase, ...]


@dataclass(frozen=True)
class _RawPurchase:
    sent_id: bool
    value_cents: int
    items: tuple[Item, ...]
    lag: int


def rng(seed: int, index: int, stream: str) -> random.Random:
    """The random stream ``stream`` of day ``index``: a pure function of its arguments.

    Only ``Random.random()`` is used: its sequence is stable across Python versions.
    """
    return random.Random(f"ga4:{seed}:{index}:{stream}")


def _pick(r: random.Random, items: tuple[_T, ...]) -> _T:
    return items[int(r.random() * len(items))]


def _poisson(r: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def _combos() -> list[tuple[Channel, str, str, str, float]]:
    """Every cell's dimensions with its expected sessions a day, in the data's fixed order."""
    total = (
        sum(c.weight for c in CHANNELS)
        * sum(w for _, w in DEVICES)
        * sum(w for _, _, w in COUNTRIES)
    )
    return [
        (channel, device, country, country_id, DAILY_SESSIONS * channel.weight * dw * cw / total)
        for channel in CHANNELS
        for device, dw in DEVICES
        for country, country_id, cw in COUNTRIES
    ]


_COMBOS = _combos()


@lru_cache(maxsize=4096)
def _raw_day(seed: int, index: int) -> tuple[tuple[int, int, tuple[_RawPurchase, ...]], ...]:
    """Day ``index``'s cells as ``(combo index, sessions, purchases)``; absent cells left out."""
    r = rng(seed, index, "cells")
    cells = []
    for k, (channel, _device, _country, _cid, mean) in enumerate(_COMBOS):
        sessions = _poisson(r, mean)
        if sessions == 0:
            continue
        purchases = []
        for _ in range(sessions):
            if r.random() * 1000 < channel.conversion:
                purchases.append(_raw_purchase(r))
        cells.append((k, sessions, tuple(purchases)))
    return tuple(cells)


def _raw_purchase(r: random.Random) -> _RawPurchase:
    sent_id = r.random() >= 1 / 40
    lag = 0 if (x := r.random()) < 0.7 else (1 if x < 0.9 else 2)
    if r.random() < 1 / 50:
        item = FREE_PRODUCT
        return _RawPurchase(
            sent_id, 0, (Item(item.item_id or NOT_SET, item.name, item.category, 0, 1),), lag
        )
    chosen: list[Product] = []
    for _ in range(1 + int(r.random() * 3)):
        product = _pick(r, CATALOGUE)
        if product not in chosen:
            chosen.append(product)
    items = tuple(
        Item(p.item_id or NOT_SET, p.name, p.category, p.price_cents, 1 + int(r.random() < 0.2))
        for p in chosen
    )
    subtotal = sum(i.revenue_cents for i in items)
    shipping = SHIPPING if subtotal < _FREE_SHIPPING_FROM else 0
    return _RawPurchase(sent_id, subtotal + shipping, items, lag)


def render_currency(total: float) -> str:
    """A TYPE_CURRENCY value as GA4 renders it: the shortest double repr, no trailing ``.0``.

    ``241.3`` -> ``"241.3"``, ``96.0`` -> ``"96"``, ``0.0`` -> ``"0"``, and a float
    sum keeps its noise (``"1024.7000000000001"``).
    """
    if total.is_integer():
        return str(int(total))
    return repr(total)


def float_sum(cents: list[int]) -> float:
    """Add ``cents / 100`` as floats, left to right, as GA4's aggregation does [B]."""
    total = 0.0
    for c in cents:
        total += c / 100
    return total


@dataclass(frozen=True)
class Visible:
    """The part of a cell GA4 has processed: sessions and the purchases already counted."""

    cell: Cell
    sessions: int
    purchases: tuple[Purchase, ...]


class GA4Data:
    """The property's data for ``seed``: ``days`` days from ``start`` (a local date, Europe/Vienna).

    Day ``index`` is ``start + index``; its cells depend only on ``(seed,
    index)``, so a later end (``GA4Sandbox.advance``) adds days and changes
    none. The data is finite in time only through the sandbox's ``end``.
    """

    def __init__(
        self, seed: int = 1, *, start: date, first_transaction: int = FIRST_TRANSACTION
    ) -> None:
        self.seed = seed
        self.start = start
        self.first_transaction = first_transaction
        #: the first purchase number of day ``i`` for the days computed so far
        self._numbers = [first_transaction]

    def index(self, day: date) -> int:
        return (day - self.start).days

    def _first_number(self, index: int) -> int:
        while len(self._numbers) <= index:
            i = len(self._numbers) - 1
            self._numbers.append(
                self._numbers[i] + sum(len(p) for _, _, p in _raw_day(self.seed, i))
            )
        return self._numbers[index]

    def day(self, index: int) -> list[Cell]:
        """Day ``index``'s cells as GA4 finally reports them, in the data's fixed order."""
        if index < 0:
            return []
        day = self.start + timedelta(days=index)
        number = self._first_number(index)
        cells = []
        for k, sessions, raw in _raw_day(self.seed, index):
            channel, device, country, country_id, _ = _COMBOS[k]
            purchases = []
            for p in raw:
                tid = str(number) if p.sent_id else NOT_SET
                purchases.append(Purchase(number, tid, p.value_cents, p.items, p.lag))
                number += 1
            cells.append(
                Cell(day, channel, device, country, country_id, sessions, tuple(purchases))
            )
        return cells

    @staticmethod
    def visible(cell: Cell, age: int) -> Visible:
        """What GA4 reports of ``cell`` when its day is ``age`` days old (0: today) [B].

        From age :data:`SETTLE_DAYS` on, everything. Before, only purchases
        whose ``lag`` has passed, and 60/85/95 % of the sessions (at least one
        per visible purchase): GA4 keeps processing the last 24-48 hours.
        """
        if age >= SETTLE_DAYS:
            return Visible(cell, cell.sessions, cell.purchases)
        if age < 0:
            return Visible(cell, 0, ())
        purchases = tuple(p for p in cell.purchases if p.lag <= age)
        sessions = max(len(purchases), cell.sessions * _SESSION_SHARE[age] // 100)
        return Visible(cell, sessions, purchases)
