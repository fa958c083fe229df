"""The ``shopify-discounts`` destination: co-op offers and partner vouchers become discount codes.

For every canonical ``offer`` of kind ``voucher`` or ``coop`` that carries a
``voucher_code``, the shop gets a price rule (the discount's logic) and a
discount code under it (what the shopper types at checkout). The discount
itself comes from the offer's one ``shopper_discount`` commission rule::

    {"kind": "shopper_discount", "type": "percentage", "value": "10"}
    {"kind": "shopper_discount", "type": "fixed_amount", "value": "5.00", "currency": "EUR"}

``value`` is what the shopper saves, positive (Shopify wants it negative; the
destination negates it). The dates come from ``valid_from`` / ``valid_to``.

Idempotent by the code: each offer's code is looked up in the shop first.
Absent, it is created; present and matching, nothing is sent (``unchanged``);
present but different (value, dates, limits), its price rule is updated with
one PUT of the changed fields. An offer whose status is inactive ends its
live price rule instead. ``docs/decisions/0009-shopify-discount-destination.md``
records the reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.connector import Destination, WriteResult
from hub.errors import AuthError, FatalConnectorError, HubError, RecordError
from hub.http import RetryPolicy
from hub.links import record_marks
from hub.redaction import redact
from hub.store import Store

from .client import DiscountCodeRef, ShopifyClient, ShopifyValidationError
from .settings import ShopifySettings

log = logging.getLogger(__name__)

#: Offer kinds that become discount codes.
PUSHED_KINDS = frozenset({"voucher", "coop"})
#: The commission rule ``kind`` that says what the shopper saves.
SHOPPER_DISCOUNT = "shopper_discount"
VALUE_TYPES = ("percentage", "fixed_amount")
DEFAULT_INACTIVE_STATUSES = (
    "inactive",
    "paused",
    "expired",
    "ended",
    "cancelled",
    "deleted",
    "archived",
)
#: Creating POSTs retry only what was surely not processed (429); a 5xx may have created it.
CREATE_RETRY = RetryPolicy(max_attempts=4, retry_statuses=frozenset({429}))


class ShopifyDiscountSettings(ShopifySettings):
    """A shop to create discount codes in; the token needs read/write_price_rules."""

    start_date: date | None = Field(  # type: ignore[assignment]
        default=None,
        description="Not used by the destination (allowed so that a source connection's "
        "config block can be reused as is).",
    )
    once_per_customer: bool = Field(
        default=False, description="Each customer may use a created code once."
    )
    usage_limit: int | None = Field(
        default=None,
        ge=1,
        description="How many times each created code may be used in total (none: unlimited).",
    )
    inactive_statuses: tuple[str, ...] = Field(
        default=DEFAULT_INACTIVE_STATUSES,
        description="Offer statuses (case-insensitive) meaning 'withdrawn': such an offer "
        "creates nothing, and the price rule of its existing code is ended now.",
    )


@dataclass(frozen=True)
class DiscountLink:
    """The Shopify objects that carry one offer's code in one shop."""

    shop: str
    price_rule_id: int
    discount_code_id: int

    def as_extra(self) -> dict[str, int]:
        return {"price_rule_id": self.price_rule_id, "discount_code_id": self.discount_code_id}


@dataclass
class DiscountWriteResult(WriteResult):
    """What ``write`` did: the hub's counters plus created/updated/skipped and the Shopify ids.

    ``sent`` counts offers for which a write went out (``created + updated``,
    0 in a dry run); under ``dry_run``, ``created`` and ``updated`` count what
    *would* be written and ``planned`` lists every request that would be sent.
    ``links`` maps each offer id whose code exists in the shop to its ids.
    """

    dry_run: bool = False
    created: int = 0
    updated: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    links: dict[str, DiscountLink] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def summary(self) -> str:
        """A few lines for people: the counts, then each planned request, then each error."""
        verbs = ("to create", "to update") if self.dry_run else ("created", "updated")
        head = "Shopify discounts (dry run, nothing sent)" if self.dry_run else "Shopify discounts"
        skipped = f"{self.skipped} skipped"
        if self.skip_reasons:
            reasons = ", ".join(f"{why}: {n}" for why, n in sorted(self.skip_reasons.items()))
            skipped += f" ({reasons})"
        lines = [
            f"{head}: {self.created} {verbs[0]}, {self.updated} {verbs[1]}, "
            f"{self.unchanged} unchanged, {skipped}, {self.failed} failed"
        ]
        for request in self.planned:
            body = orjson.dumps(request["body"]).decode()
            lines.append(f"  {request['method']} {request['path']} {body}")
        lines.extend(f"  error: {error}" for error in self.errors)
        return "\n".join(lines)


class OfferSkipped(Exception):
    """The offer is not one this destination writes (a reason, not a failure)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OfferDiscount:
    """What the shop should hold for one offer, read from its canonical row."""

    offer_id: str
    code: str
    value_type: str  # percentage | fixed_amount
    amount: Decimal  # what the shopper saves, positive: 10 (%) or 5.00 (currency)
    currency: str | None  # fixed_amount only
    starts_at: datetime | None  # whole seconds, UTC
    ends_at: datetime | None
    active: bool

    @property
    def shopify_value(self) -> str:
        """Shopify's ``value``: the discount as a negative decimal string."""
        return format(-self.amount, "f")

    def terms(self) -> tuple[Any, ...]:
        """Everything but the offer id: two offers with equal terms want the same discount."""
        return (
            self.code.casefold(),
            self.value_type,
            self.amount,
            self.currency,
            self.starts_at,
            self.ends_at,
            self.active,
        )


def discount_from_offer(
    row: Mapping[str, Any], *, inactive_statuses: Iterable[str] = DEFAULT_INACTIVE_STATUSES
) -> OfferDiscount:
    """Read the discount an offer row asks for.

    Raises :class:`OfferSkipped` for rows this destination does not write
    (another kind, no code) and :class:`~hub.errors.RecordError` for rows it
    should write but cannot (no or several ``shopper_discount`` rules, a bad
    value, naive or reversed dates).
    """
    offer_id = row.get("id")
    kind = str(row.get("kind") or "")
    if kind not in PUSHED_KINDS:
        raise OfferSkipped(f"kind {kind or '(none)'}")
    code = str(row.get("voucher_code") or "").strip()
    if not code:
        raise OfferSkipped("no voucher_code")
    where = describe_offer(row)
    if not offer_id:
        raise RecordError(f"{where}: has no id; canonical rows always do")
    rules = [
        rule
        for rule in row.get("commission_rules") or []
        if isinstance(rule, Mapping) and rule.get("kind") == SHOPPER_DISCOUNT
    ]
    if len(rules) != 1:
        found = "no" if not rules else str(len(rules))
        raise RecordError(
            f"{where}: has {found} commission rule of kind {SHOPPER_DISCOUNT!r}; exactly one "
            "says what the shopper saves",
            hint='add one rule such as {"kind": "shopper_discount", "type": "percentage", '
            '"value": "10"} to the offer\'s commission_rules',
        )
    rule = rules[0]
    value_type = rule.get("type")
    if value_type not in VALUE_TYPES:
        raise RecordError(
            f"{where}: shopper_discount type {value_type!r} is not one of {', '.join(VALUE_TYPES)}"
        )
    amount = _positive_decimal(rule.get("value"), where)
    currency = rule.get("currency")
    if value_type == "percentage":
        if amount > 100:
            raise RecordError(f"{where}: a percentage discount of {amount} is more than 100")
        currency = None
    elif not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
        raise RecordError(
            f"{where}: a fixed_amount shopper_discount needs its ISO currency",
            hint='add "currency": "EUR" (the shop\'s currency) to the rule',
        )
    starts_at = _offer_instant(row.get("valid_from"), f"{where}: valid_from")
    ends_at = _offer_instant(row.get("valid_to"), f"{where}: valid_to")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise RecordError(f"{where}: valid_to ({ends_at}) is not after valid_from ({starts_at})")
    status = str(row.get("status") or "").strip().casefold()
    inactive = {s.casefold() for s in inactive_statuses}
    return OfferDiscount(
        offer_id=str(offer_id),
        code=code,
        value_type=value_type,
        amount=amount,
        currency=currency,
        starts_at=starts_at,
        ends_at=ends_at,
        active=status not in inactive,
    )


def price_rule_body(
    discount: OfferDiscount, settings: ShopifyDiscountSettings, now: datetime
) -> dict[str, Any]:
    """The ``price_rule`` object that creates ``discount``: every line item, every customer."""
    return {
        "title": discount.code,  # Shopify's advice: title = code, for the admin's search
        "value_type": discount.value_type,
        "value": discount.shopify_value,
        "target_type": "line_item",
        "target_selection": "all",
        "allocation_method": "across",
        "customer_selection": "all",
        "starts_at": _iso(discount.starts_at or _whole_seconds(now)),
        "ends_at": _iso(discount.ends_at) if discount.ends_at else None,
        "once_per_customer": settings.once_per_customer,
        "usage_limit": settings.usage_limit,
    }


def price_rule_changes(
    discount: OfferDiscount,
    rule: Mapping[str, Any],
    settings: ShopifyDiscountSettings,
    now: datetime,
) -> dict[str, Any]:
    """The fields of the shop's price ``rule`` that differ from what the offer asks for.

    The hub owns the value, the dates and the destination's limits; targeting,
    prerequisites and the title stay as the merchant left them. A withdrawn
    offer only ends a price rule that is still running.
    """
    ends = _remote_instant(rule.get("ends_at"))
    if not discount.active:
        return {} if ends is not None and ends <= now else {"ends_at": _iso(_whole_seconds(now))}
    changes: dict[str, Any] = {}
    remote_value = _remote_decimal(rule.get("value"))
    if rule.get("value_type") != discount.value_type or remote_value != -discount.amount:
        changes["value_type"] = discount.value_type
        changes["value"] = discount.shopify_value
    if (
        discount.starts_at is not None
        and _remote_instant(rule.get("starts_at")) != discount.starts_at
    ):
        changes["starts_at"] = _iso(discount.starts_at)
    if ends != discount.ends_at:
        changes["ends_at"] = _iso(discount.ends_at) if discount.ends_at else None
    if rule.get("usage_limit") != settings.usage_limit:
        changes["usage_limit"] = settings.usage_limit
    if bool(rule.get("once_per_customer")) != settings.once_per_customer:
        changes["once_per_customer"] = settings.once_per_customer
    return changes


class ShopifyDiscountDestination(Destination):
    """Creates and keeps in step one price rule and discount code per voucher or co-op offer."""

    name: ClassVar[str] = "shopify-discounts"
    config_model: ClassVar[type[BaseModel]] = ShopifyDiscountSettings
    summary: ClassVar[str] = "Shopify: voucher and co-op offers become discount codes"
    entity: ClassVar[str] = "offer"

    config: ShopifyDiscountSettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(config, transport=transport)
        self.client = ShopifyClient(self.config, transport=transport, sleep=sleep)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._shop_currency: str | None = None

    def push(
        self,
        store: Store,
        *,
        tenant: str,
        dry_run: bool = False,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> DiscountWriteResult:
        """``hub push``: the tenant's voucher and co-op offers (or ``rows``), ids recorded back."""
        return push_offers(store, self, tenant=tenant, dry_run=dry_run, rows=rows)

    def check(self) -> None:
        """Read one price rule: proves the token, the shop and the price-rules scope."""
        self.client.get_json("price_rules.json", params={"limit": 1})

    def write(
        self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> DiscountWriteResult:
        """Create or update the discount of each voucher/co-op offer in ``rows``.

        One offer's refusal (HTTP 422, bad commission rules) is counted in
        ``failed`` with its message in ``errors`` and the others go on; a
        refused token (401/403) or a shop-wide failure stops at once.
        """
        result = DiscountWriteResult(dry_run=dry_run)
        written: dict[str, OfferDiscount] = {}  # casefolded code -> the offer that set it
        for row in rows:
            where = describe_offer(row)
            try:
                discount = discount_from_offer(row, inactive_statuses=self.config.inactive_statuses)
                first = written.get(discount.code.casefold())
                if first is not None:
                    self._same_code_again(first, discount, result)
                    continue
                self._sync(discount, result)
                written[discount.code.casefold()] = discount
            except OfferSkipped as skipped:
                result.skip(skipped.reason)
            except (RecordError, ShopifyValidationError) as exc:
                result.failed += 1
                text = str(exc)
                result.errors.append(redact(text if text.startswith(where) else f"{where}: {text}"))
        log.info("%s", result.summary().splitlines()[0])
        return result

    def close(self) -> None:
        self.client.close()

    # -- one offer -----------------------------------------------------------------------

    def _sync(self, discount: OfferDiscount, result: DiscountWriteResult) -> None:
        now = self._clock()
        if discount.currency is not None:
            self._check_currency(discount)
        where = describe_offer({"id": discount.offer_id, "voucher_code": discount.code})
        ref = self.client.lookup_discount_code(discount.code)
        if ref is None:
            if not discount.active:
                result.skip("withdrawn, not in the shop")
            elif discount.ends_at is not None and discount.ends_at <= now:
                result.skip("already ended, not in the shop")
            else:
                self._create(discount, now, result, where)
            return
        rule = self._price_rule(ref.price_rule_id)
        changes = price_rule_changes(discount, rule, self.config, now)
        if changes:
            action = "update" if discount.active else "end"
            path = f"price_rules/{ref.price_rule_id}.json"
            body = {"price_rule": {"id": ref.price_rule_id, **changes}}
            if result.dry_run:
                self._plan(result, discount, action, "PUT", path, body)
            else:
                self.client.put_json(path, body)
                result.sent += 1
                log.info("%s: price rule %s updated: %s", where, ref.price_rule_id, sorted(changes))
            result.updated += 1
        else:
            result.unchanged += 1
        result.links[discount.offer_id] = self._link(ref)

    def _create(
        self, discount: OfferDiscount, now: datetime, result: DiscountWriteResult, where: str
    ) -> None:
        rule_body = {"price_rule": price_rule_body(discount, self.config, now)}
        code_body = {"discount_code": {"code": discount.code}}
        if result.dry_run:
            self._plan(result, discount, "create", "POST", "price_rules.json", rule_body)
            code_path = "price_rules/{price_rule_id}/discount_codes.json"
            self._plan(result, discount, "create", "POST", code_path, code_body)
            result.created += 1
            return
        rule_id = self._post("price_rules.json", rule_body, "price_rule")
        try:
            code_id = self._post(
                f"price_rules/{rule_id}/discount_codes.json", code_body, "discount_code"
            )
        except AuthError:
            raise
        except HubError as refused:
            # A retried POST may have created the code before failing ("must be unique").
            ref = self.client.lookup_discount_code(discount.code)
            if ref is None or ref.price_rule_id != rule_id:
                raise self._discard(rule_id, refused, where) from None
            code_id = ref.discount_code_id
        result.created += 1
        result.sent += 1
        result.links[discount.offer_id] = DiscountLink(self.config.shop, rule_id, code_id)
        log.info("%s: created price rule %s and discount code %s", where, rule_id, code_id)

    def _same_code_again(
        self, first: OfferDiscount, again: OfferDiscount, result: DiscountWriteResult
    ) -> None:
        """A second offer with an already handled code: fine if it asks for the same discount."""
        if first.terms() != again.terms():
            raise RecordError(
                f"offer {again.offer_id} (code {again.code}): offer {first.offer_id} carries the "
                "same code with other terms, and a code has one discount; offer "
                f"{first.offer_id} was written",
                hint="give each offer its own voucher_code, or make their terms equal",
            )
        result.unchanged += 1
        if first.offer_id in result.links:
            result.links[again.offer_id] = result.links[first.offer_id]

    # -- requests ------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], key: str) -> int:
        """POST ``body`` and return the id of the ``key`` object Shopify created."""
        answer = self.client.http.request_json("POST", path, json=body, retry=CREATE_RETRY)[1]
        created = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise FatalConnectorError(
                f"POST {path} answered without the created {key}'s id",
                hint="check base_url: it must point at the shop's Admin API",
            )
        return int(created["id"])

    def _price_rule(self, rule_id: int) -> dict[str, Any]:
        answer = self.client.get_json(f"price_rules/{rule_id}.json")
        rule = answer.get("price_rule") if isinstance(answer, dict) else None
        if not isinstance(rule, dict):
            raise RecordError(f"GET price_rules/{rule_id}.json answered without a price_rule")
        return rule

    def _discard(self, rule_id: int, refused: HubError, where: str) -> HubError:
        """Delete the price rule left without its code; returns the error to raise.

        A refused code (422) fails this offer only; any other failure stops the run.
        """
        note = f" (its new price rule {rule_id} was deleted again)"
        try:
            self.client.http.request("DELETE", f"price_rules/{rule_id}.json")
        except AuthError:
            raise
        except HubError as exc:
            note = (
                f" (its new price rule {rule_id} could not be deleted: {exc.message}; "
                "delete it in the Shopify admin, it has no code and discounts nothing)"
            )
        if isinstance(refused, ShopifyValidationError):
            return ShopifyValidationError(f"{where}: {refused.message}{note}", hint=refused.hint)
        return FatalConnectorError(f"{where}: {refused.message}{note}", hint=refused.hint)

    def _check_currency(self, discount: OfferDiscount) -> None:
        if self._shop_currency is None:
            shop = self.client.get_json("shop.json").get("shop") or {}
            self._shop_currency = str(shop.get("currency") or "")
        if discount.currency != self._shop_currency:
            raise RecordError(
                f"offer {discount.offer_id} (code {discount.code}): the fixed discount is in "
                f"{discount.currency} but the shop's currency is {self._shop_currency}",
                hint="fixed_amount discounts are in the shop's currency; convert the value or "
                "use a percentage",
            )

    def _plan(
        self,
        result: DiscountWriteResult,
        discount: OfferDiscount,
        action: str,
        method: str,
        path: str,
        body: dict[str, Any],
    ) -> None:
        full_path = f"{httpx.URL(self.config.api_url).path.rstrip('/')}/{path}"
        result.planned.append(
            {
                "offer_id": discount.offer_id,
                "code": discount.code,
                "action": action,
                "method": method,
                "path": full_path,
                "body": body,
            }
        )

    def _link(self, ref: DiscountCodeRef) -> DiscountLink:
        return DiscountLink(self.config.shop, ref.price_rule_id, ref.discount_code_id)


# -- recording the ids on the offers ---------------------------------------------------------


def record_shopify_ids(store: Store, links: Mapping[str, DiscountLink], *, tenant: str) -> int:
    """Record each link in its offer's ``extra["_hub_links"]["shopify"][shop]``.

    Returns the offers changed. Only ``tenant``'s offers are touched (an offer
    id can come from a pushed file). Through :func:`hub.links.record_marks`:
    no new version of the offer, and the links survive later syncs of the
    offer from its source.
    """
    by_shop: dict[str, dict[str, dict[str, int]]] = {}
    for offer_id, link in links.items():
        by_shop.setdefault(link.shop, {})[offer_id] = link.as_extra()
    return sum(
        record_marks(store, "offer", "shopify", shop, marks, tenant=tenant)
        for shop, marks in by_shop.items()
    )


def load_offers(store: Store, *, tenant: str | None = None) -> list[dict[str, Any]]:
    """The stored voucher and co-op offers that carry a code (of one tenant, if given)."""
    table = store.table("offer")
    query = (
        select(table)
        .where(table.c.kind.in_(sorted(PUSHED_KINDS)), table.c.voucher_code.is_not(None))
        .order_by(table.c.id)
    )
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    with store.transaction() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def push_offers(
    store: Store,
    destination: ShopifyDiscountDestination,
    *,
    tenant: str,
    dry_run: bool = False,
    rows: Iterable[Mapping[str, Any]] | None = None,
) -> DiscountWriteResult:
    """Write ``tenant``'s stored offers (or ``rows``) to the shop; unless dry, record the ids.

    Ids are recorded only on offers of ``tenant`` the store holds; offers
    given as ``rows`` that are not stored are written all the same.
    """
    offers = load_offers(store, tenant=tenant) if rows is None else rows
    result = destination.write(offers, dry_run=dry_run)
    if not dry_run:
        record_shopify_ids(store, result.links, tenant=tenant)
    return result


# -- helpers ---------------------------------------------------------------------------------


def describe_offer(row: Mapping[str, Any]) -> str:
    """``offer <id> (code <code>)``: how messages name an offer."""
    code = str(row.get("voucher_code") or "").strip()
    text = f"offer {row.get('id') or '(no id)'}"
    return f"{text} (code {code})" if code else text


def _positive_decimal(value: Any, where: str) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidOperation
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RecordError(
            f"{where}: the shopper_discount value {value!r} is not a decimal number",
            hint='write it as a string, e.g. "10" for 10 % or "7.50" for a fixed amount',
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise RecordError(
            f"{where}: the shopper_discount value {value!r} must be positive (what the "
            "shopper saves)"
        )
    return amount


def _offer_instant(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(f"{where} {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RecordError(f"{where} {value!r} must be a timezone-aware timestamp")
    return _whole_seconds(value)


def _whole_seconds(value: datetime) -> datetime:
    """UTC, without microseconds: Shopify keeps whole seconds, so a comparison stays stable."""
    return value.astimezone(UTC).replace(microsecond=0)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _remote_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return _whole_seconds(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _remote_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
