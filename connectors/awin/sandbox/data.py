"""Deterministic Awin data: transactions, publishers, programmes and commission groups.

Every transaction is a pure function of ``(seed, start, index)``, of the
sandbox's "now" and of the advertiser's :class:`Decision` on it, if any:
:meth:`AwinData.facts` gives the instants and the fate (the status it ends in
and when), :meth:`AwinData.transaction` the full JSON object of apis.md 2.4 as
the API would serve it at that "now", in a requested time zone. Tests compute
their expectations from these functions, never from the server.

``start`` anchors the data in time (the first transaction's instant, default
:data:`START`); another start shifts every instant by the same amount and
leaves everything else as it is, so a sandbox can live around the real clock.
Decisions (approve, decline, amend: :mod:`.validations`) replace a
transaction's generated fate; they are the only state besides "now".

Money is kept in integer cents and rendered as JSON numbers (``cents / 100``),
so ``125.0`` and ``97.5`` occur as the reference says, and the parts of a
transaction add up to its totals exactly in cents.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..settings import AWIN_TIMEZONES

ADVERTISER_ID = 15880
ADVERTISER_NAME = "Alpenglück Outdoor AT"
PUBLISHER_ACCOUNT_ID = 300401
USER_ID = 1234
CURRENCY = "EUR"
TRANSACTION_ID_BASE = 3050000000
#: the default first transaction's instant; March 2025 holds both the US and the EU switch
#: to summer time (``AwinData(start=...)`` chooses another)
START = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
#: mean spacing of transactions (300 transactions span about 50 days)
SPACING = 4 * 3600
#: timezone names apis.md 2.3 documents for ``timezone`` (the connector's list)
TIMEZONES = AWIN_TIMEZONES
PENDING, APPROVED, DECLINED = "pending", "approved", "declined"


@dataclass(frozen=True)
class Publisher:
    id: int
    name: str
    url: str
    country: str
    country_name: str
    type: str


PUBLISHERS = (
    Publisher(
        300401,
        "Wanderwelt Magazin",
        "https://www.wanderwelt-magazin.example",
        "AT",
        "Austria",
        "Content",
    ),
    Publisher(
        300402, "Gipfelstürmer Blog", "https://gipfelstuermer.example", "DE", "Germany", "Content"
    ),
    Publisher(
        300403,
        "Sparfuchs Cashback",
        "https://www.sparfuchs-cashback.example",
        "DE",
        "Germany",
        "Cashback",
    ),
    Publisher(
        300404, "Gutscheinwelt", "https://gutscheinwelt.example", "AT", "Austria", "Voucher Code"
    ),
    Publisher(
        300405, "Trail & Tal", "https://trail-und-tal.example", "CH", "Switzerland", "Content"
    ),
    Publisher(
        300406,
        "Outdoor Deals UK",
        "https://outdoordeals.example.co.uk",
        "GB",
        "United Kingdom",
        "Voucher Code",
    ),
    Publisher(
        300407,
        "Bergfreunde Newsletter",
        "https://bergfreunde-news.example",
        "DE",
        "Germany",
        "Email",
    ),
    Publisher(300408, "Ça Grimpe", "https://ca-grimpe.example", "FR", "France", "Content"),
)
_PUBLISHER_WEIGHTS = (30, 15, 15, 12, 10, 8, 6, 4)


@dataclass(frozen=True)
class CommissionGroup:
    id: int
    code: str
    name: str
    percentage: int | None  # percentage groups
    fixed_cents: int | None  # fixed-amount groups ("fix")


GROUPS = (
    CommissionGroup(88101, "DEFAULT", "Default", 8, None),
    CommissionGroup(88102, "ACC", "Accessories", 5, None),
    CommissionGroup(88103, "SALE", "Reduzierte Ware", 3, None),
    CommissionGroup(88104, "NEU", "Neukunde Bonus", None, 500),
)
_GROUP = {g.code: g for g in GROUPS}

#: programme currency per shopper country is EUR; the shopper's (tracked) currency and its rate
_TRACKED = {"AT": ("EUR", 1.0), "DE": ("EUR", 1.0), "CH": ("CHF", 0.94), "GB": ("GBP", 0.84)}
_COUNTRIES = ("AT", "AT", "AT", "DE", "DE", "CH", "GB", "AT", "DE", "CH")
_DEVICES = ("Windows", "Macintosh", "iPhone", "iPad", "Android Mobile", "Linux")
_VOUCHERS = ("SPRING10", "WANDERN15", "ALPEN20", "NEWSLETTER5")
_DECLINE_REASONS = (
    "Bestellung storniert",
    "Ware retourniert",
    "Duplicate order",
    "Testbestellung",
    "Voucher not valid for affiliate channel",
)
_AMEND_REASONS = (
    "Trinkflasche retourniert",
    "Teilretoure",
    "Partial return: 1 item",
    "Preisnachlass",
)
_PRODUCTS = (
    (
        "9100000000001",
        "Tagesrucksack Alpsee 28 l",
        10161,
        "ALP-RUCK-28-BLU",
        "DEFAULT",
        "Rucksäcke",
    ),
    ("9100000000002", "Wanderschuh Karwendel GTX", 15990, "KAR-GTX-42", "DEFAULT", "Schuhe"),
    ("9100000000003", "Trinkflasche 0,75 l", 2513, "", "ACC", "Zubehör"),
    ("9100000000004", "Stirnlampe Lumen 300", 3490, "LUM-300", "ACC", "Zubehör"),
    ("9100000000005", "Softshelljacke Zugspitze (Vorjahr)", 8995, "ZUG-SOFT-M", "SALE", "Jacken"),
    ("9100000000006", "Merino-Socken 2er-Pack", 1990, "MER-SOCK-2", "ACC", "Zubehör"),
    ("9100000000007", "Zelt Gletscher 2P", 24900, "GLE-ZELT-2", "DEFAULT", "Zelte"),
    ("9100000000008", "Fleecejacke Rax (Restposten)", 4950, "RAX-FLEECE-L", "SALE", "Jacken"),
)
_CLICKREF_VALUES = (
    "fruehling-ranking",
    "newsletter",
    "Gipfelglück ⛰",
    "top10",
    "",
    "rücksäcke-test",
)


@dataclass(frozen=True)
class Decision:
    """What the advertiser decided about one transaction through the validation batch API.

    A decision replaces the transaction's generated fate for good: it is
    ``status`` from ``validated_at`` on (``pending`` and ``None`` when it was
    only amended), and carries the amended parts from ``amended_at`` on.
    Amounts are integer cents by commission group code.
    """

    #: approved, declined, or pending (amended without approval)
    status: str
    validated_at: int | None = None
    decline_reason: str | None = None
    #: the parts after the latest amendment, ``(group code, cents)`` (None: never amended)
    parts: tuple[tuple[str, int], ...] | None = None
    #: the parts just before the latest amendment (``oldSaleAmount``, ``oldCommissionAmount``)
    old_parts: tuple[tuple[str, int], ...] | None = None
    amended_at: int | None = None
    amend_reason: str | None = None


@dataclass(frozen=True)
class Facts:
    """What filtering needs of transaction ``index``: instants (epoch seconds, UTC) and fate."""

    index: int
    id: int
    publisher: Publisher
    transaction_at: int
    #: the status it ends in: approved, declined, or pending (never validated)
    final_status: str
    #: when the advertiser approves or declines it (None: stays pending)
    validated_at: int | None
    #: when its amounts were amended (None: never); generated amendments happen on approval
    amended_at: int | None
    #: True: the advertiser decided it (a :class:`Decision`), the generated fate no longer applies
    decided: bool = False

    def status(self, now: int) -> str:
        """``commissionStatus`` as seen at ``now``."""
        if self.validated_at is not None and self.validated_at <= now:
            return self.final_status
        return PENDING

    def amended(self, now: int) -> bool:
        return self.amended_at is not None and self.amended_at <= now


def rng(seed: int, index: int, stream: str) -> random.Random:
    """The random stream ``stream`` of transaction ``index``: a pure function of its arguments."""
    return random.Random(f"awin:{seed}:{index}:{stream}")


def cents(amount: int) -> float:
    """Integer cents as the JSON number Awin sends (``12500`` -> ``125.0``)."""
    return amount / 100


def render(instant: int, zone: ZoneInfo) -> str:
    """An epoch instant as Awin renders it: ``YYYY-MM-DDTHH:MM:SS`` in ``zone``, no offset."""
    return datetime.fromtimestamp(instant, zone).strftime("%Y-%m-%dT%H:%M:%S")


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def anchor(start: datetime | None) -> int:
    """The epoch second of a ``start`` datetime, floored to the whole minute (None: :data:`START`).

    Whole minutes keep every generated instant on a minute, as in Awin's examples.
    """
    if start is None:
        return START
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(
            "start must be timezone-aware (UTC), e.g. datetime(2025, 3, 1, tzinfo=UTC)"
        )
    return int(start.timestamp()) // 60 * 60


class AwinData:
    """The sandbox's data for ``seed``: pure functions of their arguments and of ``decisions``.

    ``start`` is the first transaction's instant (default 2025-03-01 UTC,
    floored to the minute); ``decisions`` maps a transaction index to the
    advertiser's :class:`Decision`, which the sandbox adds to as validation
    batches arrive (the mapping is read, never written, here).
    """

    def __init__(
        self,
        seed: int = 1,
        advertiser_id: int = ADVERTISER_ID,
        *,
        start: datetime | None = None,
        decisions: Mapping[int, Decision] | None = None,
    ) -> None:
        self.seed = seed
        #: the advertiser (programme) every transaction belongs to
        self.advertiser_id = advertiser_id
        #: the first transaction's instant, epoch seconds (UTC)
        self.start = anchor(start)
        #: the advertiser's decisions by transaction index (empty: every fate as generated)
        self.decisions: Mapping[int, Decision] = decisions if decisions is not None else {}

    # ------------------------------------------------------------------ facts

    def facts(self, index: int) -> Facts:
        """Instants, publisher and fate of transaction ``index`` (its decision, if any, wins)."""
        f = self.generated_facts(index)
        decision = self.decisions.get(index)
        if decision is None:
            return f
        return Facts(
            f.index,
            f.id,
            f.publisher,
            f.transaction_at,
            decision.status,
            decision.validated_at,
            decision.amended_at,
            decided=True,
        )

    def generated_facts(self, index: int) -> Facts:
        """The facts of transaction ``index`` as generated, whatever the advertiser decided."""
        r = rng(self.seed, index, "facts")
        start = self.start
        at = start + index * SPACING + r.randrange(-SPACING // 2, SPACING // 2) // 60 * 60
        at = max(start, at)
        publisher = r.choices(PUBLISHERS, _PUBLISHER_WEIGHTS)[0]
        fate = r.random()
        validated_at: int | None = at + r.randrange(2 * 86400, 45 * 86400) // 60 * 60
        amended_at = None
        if fate < 0.68:
            final = APPROVED
            if r.random() < 0.15:
                amended_at = validated_at
        elif fate < 0.85:
            final = DECLINED
        else:
            final, validated_at = PENDING, None
        return Facts(
            index, TRANSACTION_ID_BASE + index, publisher, at, final, validated_at, amended_at
        )

    # ------------------------------------------------------------------ the object

    def transaction(
        self,
        index: int,
        *,
        now: int,
        tz: str = "UTC",
        view: str = "advertiser",
        basket: bool = False,
    ) -> dict[str, Any]:
        """Transaction ``index`` exactly as served at ``now`` (epoch seconds) in time zone ``tz``.

        ``view`` is ``advertiser`` or ``publisher`` (the publisher view carries
        no ``networkFee`` amount); ``basket`` is the request's ``showBasketProducts``.
        A decided transaction is served with its decision from the decision's
        instants on (``now`` before them shows it pending and unamended).
        """
        f = self.facts(index)
        z = zone(tz)
        r = rng(self.seed, index, "body")
        pub = f.publisher
        country = r.choice(_COUNTRIES)
        tracked_currency, rate = _TRACKED[country]
        acquisition = r.choice((None, None, "NEW", "RETURNING"))

        # What was tracked: product lines (when product-level tracking ran) or parts directly.
        products: list[dict[str, Any]] | None = None
        if r.random() < 0.35:
            products = []
            for product in r.sample(_PRODUCTS, r.randint(1, 3)):
                pid, name, price, sku, code, category = product
                unit = price * (100 - r.choice((0, 0, 10, 15))) // 100  # after discounts
                products.append(
                    {
                        "productId": pid,
                        "productName": name,
                        "unitPrice": unit,
                        "quantity": r.choice((1, 1, 1, 2, 3)),
                        "skuCode": sku,
                        "commissionGroupCode": code,
                        "category": category,
                    }
                )
            tracked: dict[str, int] = {}
            for p in products:
                tracked[p["commissionGroupCode"]] = (
                    tracked.get(p["commissionGroupCode"], 0) + p["unitPrice"] * p["quantity"]
                )
        else:
            codes = r.choice(
                (["DEFAULT"], ["DEFAULT"], ["DEFAULT", "ACC"], ["SALE"], ["DEFAULT", "SALE", "ACC"])
            )
            tracked = {code: r.randrange(1500, 30000) for code in codes}
        if acquisition == "NEW" and "DEFAULT" in tracked and r.random() < 0.5:
            tracked["NEU"] = tracked.pop("DEFAULT")

        decision = self.decisions.get(index)
        current = dict(tracked)
        previous = tracked
        reason = None
        if decision is None:
            amended = f.amended(now)
            if amended:
                # the reasons have their own stream: drawing them from ``r`` would change
                # every later field (orderRef ...) at the moment the status changes
                reason = rng(self.seed, index, "amend-reason").choice(_AMEND_REASONS)
                # the amendment takes the smallest part out, or halves a single part
                if len(current) > 1:
                    current[min(current, key=lambda c: current[c])] = 0
                else:
                    only = next(iter(current))
                    current[only] = current[only] // 2
        else:
            # Decided while pending: no draw for a generated reason, so every other field
            # stays exactly as it was served before the decision (orderRef above all).
            amended = (
                decision.parts is not None
                and decision.amended_at is not None
                and decision.amended_at <= now
            )
            if amended and decision.parts is not None:
                current = dict(decision.parts)
                previous = dict(decision.old_parts or decision.parts)
                reason = decision.amend_reason
        parts = []
        for code, amount in current.items():
            group = _GROUP[code]
            commission = _commission(group, amount)
            parts.append(
                {
                    "commissionGroupId": group.id,
                    "amount": cents(amount),
                    "commissionAmount": cents(commission),
                    "advertiserCost": None,
                    "commissionGroupCode": group.code,
                    "commissionGroupName": group.name,
                    # [B] a group an amendment added was never tracked: no tracked part
                    "trackedParts": [
                        {
                            "code": group.code,
                            "amount": cents(round(tracked[code] * rate)),
                            "currency": tracked_currency,
                        }
                    ]
                    if code in tracked
                    else [],
                }
            )
        sale = sum(current.values())
        commission = sum(_commission(_GROUP[c], a) for c, a in current.items())
        old_sale = sum(previous.values())
        old_commission = sum(_commission(_GROUP[c], a) for c, a in previous.items())
        tracked_sale = sum(tracked.values())

        status = f.status(now)
        lapse = r.choice((r.randrange(30, 3600), r.randrange(3600, 30 * 86400)))
        click_device = r.choice(_DEVICES)
        voucher = r.choice(_VOUCHERS) if (pub.type == "Voucher Code" or r.random() < 0.1) else None
        paid = (
            status == APPROVED and f.validated_at is not None and now - f.validated_at > 30 * 86400
        )
        shared = pub.type == "Cashback" and r.random() < 0.5
        return {
            "id": f.id,
            "url": pub.url,
            "advertiserId": self.advertiser_id,
            "publisherId": pub.id,
            "commissionSharingPublisherId": 300499 if shared else None,
            "commissionSharingSelectedRatePublisherId": pub.id if shared else None,
            "campaign": r.choice((None, None, None, "fruehling-2025", "Sommer Sale")),
            "siteName": pub.name,
            "commissionStatus": status,
            "commissionAmount": {"amount": cents(commission), "currency": CURRENCY},
            "saleAmount": {"amount": cents(sale), "currency": CURRENCY},
            "ipHash": str(r.randrange(-(2**63), 2**63)),
            "customerCountry": country,
            "clickRefs": _click_refs(r),
            # Awin's public examples show whole minutes; the click is truncated to one
            "clickDate": render((f.transaction_at - lapse) // 60 * 60, z),
            "transactionDate": render(f.transaction_at, z),
            "validationDate": (
                render(f.validated_at, z)
                if status != PENDING and f.validated_at is not None
                else None
            ),
            "type": "Commission group transaction",
            "declineReason": (
                None
                if status != DECLINED
                else rng(self.seed, index, "decline-reason").choice(_DECLINE_REASONS)
                if decision is None
                else decision.decline_reason
            ),
            "voucherCodeUsed": voucher is not None,
            "voucherCode": voucher,
            "lapseTime": lapse,
            "amended": amended,
            "amendReason": reason,
            "oldSaleAmount": {"amount": cents(old_sale), "currency": CURRENCY} if amended else None,
            "oldCommissionAmount": (
                {"amount": cents(old_commission), "currency": CURRENCY} if amended else None
            ),
            "clickDevice": click_device,
            "transactionDevice": click_device if r.random() < 0.8 else r.choice(_DEVICES),
            "customerAcquisition": acquisition,
            "publisherUrl": r.choice((None, f"{pub.url}/rucksack-test-2025", f"{pub.url}/")),
            "advertiserCountry": "AT",
            "orderRef": str(1001 + 2 * index + r.randrange(2)) if r.random() < 0.97 else None,
            "customParameters": r.choice((None, [], [{"key": "1", "value": "shopify"}])),
            "transactionParts": parts,
            "paidToPublisher": paid,
            "paymentId": 700000 + (f.validated_at or 0) // (30 * 86400) if paid else 0,
            "transactionQueryId": 0 if r.random() < 0.95 else 510000 + index,
            "trackedCurrencyAmount": (
                {"amount": cents(round(tracked_sale * rate)), "currency": tracked_currency}
                if tracked_currency != CURRENCY
                else None
            ),
            # [B] "original amount before a currency or other adjustment": set on amendments
            "originalSaleAmount": (
                {"amount": cents(tracked_sale), "currency": CURRENCY} if amended else None
            ),
            "advertiserCost": {"amount": None, "currency": None},
            "networkFee": (
                {"amount": cents(round(commission * 0.3)), "currency": CURRENCY}
                if view == "advertiser"
                else {"amount": None, "currency": None}
            ),
            "basketProducts": (
                [{**p, "unitPrice": cents(p["unitPrice"])} for p in products]
                if basket and products
                else None
            ),
        }


def find_group(code: str) -> CommissionGroup | None:
    """The sandbox advertiser's commission group ``code`` (None: no such group)."""
    return _GROUP.get(code)


def part_commission(code: str, amount: int) -> int:
    """Commission in cents of ``amount`` cents in group ``code`` (the group's rate, as served)."""
    return _commission(_GROUP[code], amount)


def _commission(group: CommissionGroup, amount: int) -> int:
    """Commission in cents of a part of ``amount`` cents (a zeroed part earns nothing)."""
    if amount == 0:
        return 0
    if group.fixed_cents is not None:
        return group.fixed_cents
    return round(amount * (group.percentage or 0) / 100)


def _click_refs(r: random.Random) -> dict[str, str] | None:
    """``null`` (30 %), ``{}``, some keys, or all six with non-ASCII text (apis.md 2.7 #4)."""
    roll = r.random()
    if roll < 0.3:
        return None
    if roll < 0.4:
        return {}
    keys = ["clickRef"] + [f"clickRef{n}" for n in range(2, 7)]
    if roll < 0.85:
        keys = [k for k in keys if r.random() < 0.4] or ["clickRef"]
    return {k: r.choice(_CLICKREF_VALUES) for k in keys}


# ---------------------------------------------------------------------- other resources

#: the programmes a publisher account sees; the first one is the sandbox's advertiser
PROGRAMMES = (
    # id, name, currency, country, country name, sector, relationship of the publisher
    (ADVERTISER_ID, ADVERTISER_NAME, "EUR", "AT", "Austria", "Sports & Outdoor", "joined"),
    (15881, "Alpenglück Outdoor CH", "CHF", "CH", "Switzerland", "Sports & Outdoor", "joined"),
    (16020, "Seeblick Ferienwohnungen", "EUR", "DE", "Germany", "Travel", "pending"),
    (17333, "Nordkap Thermo UK", "GBP", "GB", "United Kingdom", "Sports & Outdoor", "notjoined"),
)


def programmes(advertiser_id: int) -> list[tuple[int, str, str, str, str, str, str]]:
    """:data:`PROGRAMMES` with the sandbox's advertiser id in place of 15880."""
    return [(advertiser_id, *PROGRAMMES[0][1:]), *PROGRAMMES[1:]]


def accounts_json(
    account_type: str | None, advertiser_id: int, publisher_id: int
) -> dict[str, Any]:
    """``GET /accounts``: the advertiser and the publisher account the token's user reaches."""
    accounts = [
        {
            "accountId": advertiser_id,
            "accountName": ADVERTISER_NAME,
            "accountType": "advertiser",
            "userRole": "admin",
        },
        {
            "accountId": publisher_id,
            "accountName": next(
                (p.name for p in PUBLISHERS if p.id == publisher_id), f"Publisher {publisher_id}"
            ),
            "accountType": "publisher",
            "userRole": "admin",
        },
    ]
    if account_type:
        accounts = [a for a in accounts if a["accountType"] == account_type]
    return {"userId": USER_ID, "accounts": accounts}


def publishers_json() -> list[dict[str, Any]]:
    """``GET /advertisers/{id}/publishers``: publishers with an active relationship."""
    return [
        {
            "id": p.id,
            "name": p.name,
            "primaryRegion": {"countryCode": p.country, "name": p.country_name},
            "salesRegions": [{"countryCode": p.country, "name": p.country_name}]
            + ([{"countryCode": "AT", "name": "Austria"}] if p.country == "DE" else []),
            "primaryType": p.type,
        }
        for p in PUBLISHERS
    ]


def programmes_json(
    advertiser_id: int, publisher_id: int, relationship: str | None
) -> list[dict[str, Any]]:
    """``GET /publishers/{id}/programmes``, filtered by ``relationship`` when given."""
    return [
        {
            "id": pid,
            "name": name,
            "description": f"{name}: Ausrüstung und Erlebnisse",
            "displayUrl": f"https://www.programme-{pid}.example",
            "clickThroughUrl": f"https://www.awin1.com/awclick.php?mid={pid}&id={publisher_id}",
            "logoUrl": f"https://ui.awin.com/images/upload/merchant/profile/{pid}.png",
            "currencyCode": currency,
            "primaryRegion": {"countryCode": country, "name": country_name},
            "primarySector": sector,
            "status": "Active",
            "linkStatus": "Active" if rel == "joined" else "Not Joined",
            "validDomains": [{"domain": f"programme-{pid}.example"}],
        }
        for pid, name, currency, country, country_name, sector, rel in programmes(advertiser_id)
        if relationship is None or rel == relationship
    ]


def commission_groups_json(programme: int, publisher_id: int, advertiser_id: int) -> dict[str, Any]:
    """``GET /publishers/{id}/commissiongroups?advertiserId=programme``: groups and rates.

    The sandbox's advertiser (``advertiser_id``) has :data:`GROUPS`; the other
    programmes one percentage group each, with ids of their own.
    """
    if programme != advertiser_id:
        return {
            "advertiser": programme,
            "publisher": publisher_id,
            "commissionGroups": [
                {
                    "groupId": programme * 10 + 1,
                    "groupCode": "DEFAULT",
                    "groupName": "Default",
                    "type": "percentage",
                    "percentage": 6,
                }
            ],
        }
    groups: list[dict[str, Any]] = []
    for g in GROUPS:
        if g.fixed_cents is None:
            groups.append(
                {
                    "groupId": g.id,
                    "groupCode": g.code,
                    "groupName": g.name,
                    "type": "percentage",
                    "percentage": g.percentage,
                }
            )
        else:
            groups.append(
                {
                    "groupId": g.id,
                    "groupCode": g.code,
                    "groupName": g.name,
                    "type": "fix",
                    "amount": cents(g.fixed_cents),
                    "currency": CURRENCY,
                }
            )
    return {"advertiser": programme, "publisher": publisher_id, "commissionGroups": groups}
