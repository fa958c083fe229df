"""The ``awin-conversions`` destination: first-party sales to Awin's Conversion API (S2S).

A merchant's shop records the Awin click id (``awc``) of a visitor who came
through a publisher; the hub keeps it as the conversion's ``click_ref``. This
destination sends the tenant's conversions that carry an ``awc`` of the
configured advertiser to ``POST /s2s/advertiser/{id}/orders`` (header
``x-api-key``, at most 1000 orders a call), so sales reach Awin without a
browser pixel (apis.md 2.6).

What is sent, per conversion (``docs/decisions/0011-awin-destinations.md``):

- ``orderReference`` = ``order_ref`` (at most 50 characters), ``currency``,
  ``awc`` = ``click_ref``, ``channel`` (setting, ``aw``), the first voucher
  code, ``customerAcquisition`` (``NEW``/``RETURNING`` when known) and
  ``custom: {"1": <source>}``.
- ``amount``: what Awin commissions, the order's items after discounts and
  without tax, shipping and fees: per line ``amount`` minus the tax the
  source says is included in it (Shopify: ``taxes_included`` with the line's
  ``tax_lines``), for the units not refunded, rounded to cents per line.
- ``commissionGroups``: those line amounts summed per commission group (the
  line's category mapped by ``category_groups``, else ``commission_group``),
  so the parts add up to ``amount`` exactly (an item's own ``commission_group``,
  where its source set one, comes first); ``basket``: one product per line.

Conversions come from every source but ``awin`` itself (those are Awin's
own), skipped when they are test orders, declined or cancelled, or older than
``max_age_days``. Idempotent: each conversion sent is marked in its
``extra._hub_links.awin_s2s[<advertiser id>]`` and never sent again; orders
Awin refuses (a 206's ``failedOrders``) are reported per conversion, left
unmarked and tried again on the next push.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr, model_validator
from sqlalchemy import and_

from hub import money
from hub.connector import Destination, WriteResult
from hub.errors import AuthError, FatalConnectorError, HubError, RecordError, RetriableError
from hub.http import HttpClient, RetryPolicy, retry_after_seconds
from hub.links import marks_of, record_marks
from hub.reader import conversions_with_items, describe_conversion
from hub.redaction import redact
from hub.store import Store

from .client import RATE_LIMIT_WAIT, awin_error_message
from .settings import AwinSettings

log = logging.getLogger(__name__)

#: Orders per call the Conversion API accepts.
MAX_ORDERS = 1000
#: Longest order reference Awin keeps.
MAX_ORDER_REF = 50
LINK_SYSTEM = "awin_s2s"
#: The source whose conversions are Awin's own transactions: never sent back.
AWIN_SOURCE = "awin"
POST_RETRY = RetryPolicy(max_attempts=4, backoff_base=5.0, max_total_wait=180.0, jitter=0.2)


class AwinConversionSettings(AwinSettings):
    """An Awin advertiser's Conversion API key and how conversions become S2S orders."""

    api_token: SecretStr | None = Field(  # type: ignore[assignment]
        default=None,
        description="Not used by the Conversion API (it takes s2s_api_key); allowed so that "
        "the source connection's config block is reused as is.",
    )
    start_date: date | None = Field(  # type: ignore[assignment]
        default=None, description="Not used by the destination."
    )
    s2s_api_key: SecretStr = Field(
        description="The advertiser's Conversion API key (sent as `x-api-key`); put it in the "
        "connection's `push.awin-conversions:` block, from the environment."
    )
    channel: str = Field(
        default="aw",
        min_length=1,
        description="The last-click channel Awin records (`aw`: Awin).",
    )
    commission_group: str = Field(
        default="DEFAULT",
        min_length=1,
        description="The commission group code of lines whose category is not in category_groups.",
    )
    category_groups: dict[str, str] = Field(
        default_factory=dict,
        description="Commission group code per item category (case-insensitive), "
        "e.g. {Zubehör: ACC}.",
    )
    amount: Literal["items", "total"] = Field(
        default="items",
        description="`items`: the items after discounts, without tax, shipping and fees, as "
        "Awin expects; `total`: the conversion's amount minus refunds (for sources without "
        "items).",
    )
    send_basket: bool = Field(
        default=True, description="Send the items as Awin's basket (product-level tracking)."
    )
    statuses: tuple[str, ...] = Field(
        default=("pending", "approved"),
        min_length=1,
        description="Conversion statuses that are sent (declined and cancelled are not).",
    )
    max_age_days: int = Field(
        default=30,
        ge=1,
        description="Conversions that occurred longer ago are not sent (the first push on a "
        "hub with years of orders would otherwise report them all).",
    )
    batch_size: int = Field(
        default=MAX_ORDERS, ge=1, le=MAX_ORDERS, description="Orders per call (Awin: 1000)."
    )

    @model_validator(mode="after")
    def _advertiser_only(self) -> AwinConversionSettings:
        if self.account_type != "advertiser":
            raise ValueError(
                "awin-conversions sends an advertiser's sales: account_type must be advertiser"
            )
        return self

    @property
    def awc_pattern(self) -> re.Pattern[str]:
        """What an ``awc`` of this advertiser looks like: ``{id}_{click time}_{32 hex}``."""
        return re.compile(rf"^{self.account_id}_\d+_[0-9a-f]{{32}}$")


# -- conversion -> order ---------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """One Conversion API order built from one canonical conversion."""

    conversion_id: str
    body: dict[str, Any]
    amount: Decimal

    @property
    def reference(self) -> str:
        return str(self.body["orderReference"])


def order_from_conversion(
    conversion: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    settings: AwinConversionSettings,
) -> Order:
    """The S2S order for ``conversion`` and its ``items``; RecordError when it cannot be built."""
    where = describe_conversion(conversion)
    ref = str(conversion.get("order_ref") or "").strip()
    if not ref:
        raise RecordError(f"{where}: has no order_ref; Awin needs the order reference")
    if len(ref) > MAX_ORDER_REF:
        raise RecordError(
            f"{where}: order_ref {ref!r} is longer than {MAX_ORDER_REF} characters",
            hint="Awin keeps at most 50; set the source's order_ref option to a shorter number",
        )
    currency = str(conversion.get("currency") or "").upper()
    if len(currency) != 3:
        raise RecordError(f"{where}: has no currency")
    groups: dict[str, Decimal] = {}
    basket: list[dict[str, Any]] = []
    if settings.amount == "items":
        if not items:
            raise RecordError(
                f"{where}: has no items, and Awin's amount is the items without tax and shipping",
                hint="set amount: total for sources without items",
            )
        taxes_included = bool((conversion.get("extra") or {}).get("taxes_included"))
        for item in items:
            quantity, net = net_line(item, taxes_included, where)
            if quantity == 0:
                continue
            code = _group(item, settings)
            groups[code] = groups.get(code, Decimal(0)) + net
            basket.append(_product(item, quantity, net, code))
    else:
        total = money.amount(conversion.get("amount"), f"{where}: amount")
        refunded = money.amount(conversion.get("refunded_amount") or 0, f"{where}: refunded_amount")
        groups[settings.commission_group] = max(total - refunded, Decimal(0))
    amount = sum(groups.values(), Decimal(0))
    body: dict[str, Any] = {
        "orderReference": ref,
        "amount": money.json_number(amount),
        "channel": settings.channel,
        "currency": currency,
        "awc": str(conversion.get("click_ref")),
    }
    vouchers = [code for code in conversion.get("voucher_codes") or [] if code]
    if vouchers:
        body["voucher"] = str(vouchers[0])
    acquisition = {"new": "NEW", "returning": "RETURNING"}.get(
        str(conversion.get("customer_type") or "")
    )
    if acquisition:
        body["customerAcquisition"] = acquisition
    body["commissionGroups"] = [
        {"code": code, "amount": money.json_number(value)} for code, value in groups.items()
    ]
    if settings.send_basket and basket:
        body["basket"] = basket
    body["custom"] = {"1": str(conversion.get("source") or "")}
    return Order(str(conversion["id"]), body, amount)


def net_line(
    item: Mapping[str, Any], taxes_included: bool, where: str = "item"
) -> tuple[int, Decimal]:
    """The units not refunded and their amount after discounts, without included tax.

    The line's ``amount`` is after discounts; when the source says taxes are
    included in prices (Shopify's ``taxes_included``), the tax of the line's
    ``extra.tax_lines`` is taken out. Refunded units take their share with them.
    """
    line = f"{where}, item {item.get('line_ref') or item.get('sku') or '?'}"
    quantity = money.whole(item.get("quantity"), f"{line}: quantity")
    refunded = money.whole(item.get("refunded_quantity") or 0, f"{line}: refunded_quantity")
    if quantity <= 0:
        return 0, Decimal(0)
    given = item.get("amount")
    if given is None:
        given = money.amount(item.get("unit_price"), f"{line}: unit_price") * quantity
    net = money.amount(given, f"{line}: amount")
    if taxes_included:
        tax_lines = (item.get("extra") or {}).get("tax_lines") or []
        net -= sum(
            (money.amount(tax.get("price") or 0, f"{line}: tax") for tax in tax_lines), Decimal(0)
        )
    kept = max(quantity - refunded, 0)
    share = net * kept / quantity
    return kept, money.cents(max(share, Decimal(0)))


@dataclass
class ConversionWriteResult(WriteResult):
    """What ``write`` did: the hub's counters, skip reasons, and what Awin acknowledged.

    ``sent`` counts orders Awin accepted; ``links`` maps each such conversion
    id to ``{"batch_id", "correlation_id", "order_reference", "amount"}``.
    """

    dry_run: bool = False
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def summary(self) -> str:
        head = "Awin conversions (dry run, nothing sent)" if self.dry_run else "Awin conversions"
        planned = sum(len(request["body"]["orders"]) for request in self.planned)
        sent = f"{planned} to send" if self.dry_run else f"{self.sent} sent"
        skipped = f"{self.skipped} skipped"
        if self.skip_reasons:
            reasons = ", ".join(f"{why}: {n}" for why, n in sorted(self.skip_reasons.items()))
            skipped += f" ({reasons})"
        lines = [f"{head}: {sent}, {self.unchanged} unchanged, {skipped}, {self.failed} failed"]
        for request in self.planned:
            lines.append(f"  {request['method']} {request['path']}")
            lines.extend(
                f"    {orjson.dumps(order).decode()}" for order in request["body"]["orders"]
            )
        lines.extend(f"  error: {error}" for error in self.errors)
        return "\n".join(lines)


class AwinConversionDestination(Destination):
    """Sends conversions carrying an Awin click id to the advertiser's Conversion API."""

    name: ClassVar[str] = "awin-conversions"
    config_model: ClassVar[type[BaseModel]] = AwinConversionSettings
    summary: ClassVar[str] = "Awin: conversions with an awc click id as server-to-server orders"
    entity: ClassVar[str] = "conversion"

    config: AwinConversionSettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(config, transport=transport)
        key = self.config.s2s_api_key
        ref: list[HttpClient] = []
        self.http = HttpClient(
            self.config.base_url,
            headers={"x-api-key": key.get_secret_value(), "Content-Type": "application/json"},
            secrets=[key],
            transport=transport,
            retry=POST_RETRY,
            classify_error=_classify(ref),
            error_message=awin_error_message,
            sleep=sleep,
        )
        ref.append(self.http)
        self._now = now or (lambda: datetime.now(UTC))
        #: called with each accepted batch's links (push() marks them in the store at once)
        self._on_batch: Callable[[Mapping[str, Mapping[str, Any]]], None] | None = None

    @property
    def path(self) -> str:
        return f"/s2s/advertiser/{self.config.account_id}/orders"

    def check(self) -> None:
        """Nothing to read without sending an order: checks the config offline only.

        The Conversion API has no read endpoint, and a test order would be
        tracked; the key is proven by the first push.
        """

    def push(
        self,
        store: Store,
        *,
        tenant: str,
        dry_run: bool = False,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> ConversionWriteResult:
        """``hub push awin-conversions``: the tenant's eligible conversions; sent ones marked."""
        if rows is not None:  # rows of a file: not stored conversions, nothing to mark
            return self.write(rows, dry_run=dry_run)
        advertiser = str(self.config.account_id)

        def mark(links: Mapping[str, Mapping[str, Any]]) -> None:
            # batch by batch: a later batch's failure must not lose the marks of accepted ones
            record_sent(store, tenant, advertiser, links, self._now())

        self._on_batch = mark
        try:
            conversions = load_conversions(store, tenant, self.config, self._now())
            return self.write(conversions, dry_run=dry_run)
        finally:
            self._on_batch = None

    def write(
        self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> ConversionWriteResult:
        """Send the eligible conversions of ``rows`` (each with its ``items``), in batches.

        Rows are canonical conversions with an ``items`` list of their
        conversion_item rows (:func:`load_conversions` builds them).
        """
        result = ConversionWriteResult(dry_run=dry_run)
        batch: list[Order] = []
        seen: set[str] = set()
        cutoff = self._now() - timedelta(days=self.config.max_age_days)
        for row in rows:
            reason = self._skip_reason(row, cutoff)
            if reason == "already sent":
                result.unchanged += 1
                continue
            if reason:
                result.skip(reason)
                continue
            try:
                order = order_from_conversion(row, row.get("items") or [], self.config)
            except RecordError as exc:
                result.failed += 1
                result.errors.append(redact(str(exc)))
                continue
            if order.amount <= 0:
                result.skip("nothing left to commission")
                continue
            if order.reference in seen:
                result.failed += 1
                result.errors.append(
                    f"{describe_conversion(row)}: another conversion of this push has order_ref "
                    f"{order.reference!r}; Awin keeps one order per reference"
                )
                continue
            seen.add(order.reference)
            batch.append(order)
            if len(batch) == self.config.batch_size:
                self._flush(batch, result)
                batch = []
        if batch:
            self._flush(batch, result)
        log.info("%s", result.summary().splitlines()[0])
        return result

    def close(self) -> None:
        self.http.close()

    def _skip_reason(self, row: Mapping[str, Any], cutoff: datetime) -> str | None:
        if str(self.config.account_id) in marks_of(row, LINK_SYSTEM):
            return "already sent"
        if row.get("source") == AWIN_SOURCE:
            return "an Awin transaction"
        if not self.config.awc_pattern.match(str(row.get("click_ref") or "")):
            return f"no awc of advertiser {self.config.account_id}"
        if row.get("is_test"):
            return "test order"
        if str(row.get("status") or "") not in self.config.statuses:
            return f"status {row.get('status') or '(none)'}"
        occurred = row.get("occurred_at")
        if not isinstance(occurred, datetime):
            return "no occurred_at"
        occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
        if occurred < cutoff:
            return f"older than {self.config.max_age_days} days"
        return None

    def _flush(self, batch: list[Order], result: ConversionWriteResult) -> None:
        body = {"orders": [order.body for order in batch]}
        if result.dry_run:
            path = f"{httpx.URL(self.config.base_url).path.rstrip('/')}{self.path}"
            result.planned.append({"method": "POST", "path": path, "body": body})
            return
        response = self.http.request("POST", self.path, content=orjson.dumps(body))
        answer = _json_or_empty(response)
        batch_id = str(answer.get("batchId") or "")
        correlations = {
            str(ok.get("orderReference")): ok.get("correlationId")
            for ok in answer.get("successfulOrders") or []
            if isinstance(ok, Mapping)
        }
        refused: dict[str, str] = {}
        for failure in answer.get("failedOrders") or []:
            if not isinstance(failure, Mapping):
                continue
            order = failure.get("order")
            if not isinstance(order, Mapping):
                order = {}
            errors = "; ".join(
                f"{e.get('field')}: {e.get('message')}"
                for e in failure.get("errors") or []
                if isinstance(e, Mapping)
            )
            refused[str(order.get("orderReference"))] = errors or "no reason given"
        if response.status_code == 206 and not refused:
            log.warning(
                "Awin answered 206 (partly accepted) without failedOrders: batch %s", batch_id
            )
        accepted: dict[str, dict[str, Any]] = {}
        for order in batch:
            if order.reference in refused:
                result.failed += 1
                result.errors.append(
                    redact(
                        f"conversion {order.conversion_id} (order {order.reference}): Awin "
                        f"refused it: {refused[order.reference]}"
                    )
                )
                continue
            result.sent += 1
            accepted[order.conversion_id] = {
                "batch_id": batch_id,
                "correlation_id": correlations.get(order.reference),
                "order_reference": order.reference,
                "amount": str(order.amount),
            }
        result.links.update(accepted)
        if accepted and self._on_batch is not None:
            self._on_batch(accepted)


# -- the store side --------------------------------------------------------------------------


def load_conversions(
    store: Store, tenant: str, settings: AwinConversionSettings, now: datetime
) -> Iterator[dict[str, Any]]:
    """The tenant's conversions that may become orders, each with its ``items``, in pages.

    Narrowed in SQL to non-Awin conversions of the last ``max_age_days`` whose
    ``click_ref`` starts with the advertiser id; :meth:`AwinConversionDestination.write`
    applies the exact rules. Pages of ``batch_size`` keep memory flat.
    """
    conversions = store.table("conversion")
    cutoff = now - timedelta(days=settings.max_age_days)
    where = and_(
        conversions.c.tenant == tenant,
        conversions.c.source != AWIN_SOURCE,
        conversions.c.click_ref.like(f"{settings.account_id}\\_%", escape="\\"),
        conversions.c.occurred_at >= cutoff,
    )
    return conversions_with_items(store, conversions, where, page_size=settings.batch_size)


def record_sent(
    store: Store,
    tenant: str,
    advertiser: str,
    links: Mapping[str, Mapping[str, Any]],
    at: datetime,
) -> int:
    """Mark each sent conversion: ``extra._hub_links.awin_s2s[advertiser]`` (no new version)."""
    sent_at = at.astimezone(UTC).isoformat()
    marks = {row_id: {**link, "sent_at": sent_at} for row_id, link in links.items()}
    return record_marks(store, "conversion", LINK_SYSTEM, advertiser, marks, tenant=tenant)


# -- helpers ---------------------------------------------------------------------------------


def _classify(ref: list[HttpClient]) -> Callable[[httpx.Response], HubError | None]:
    def classify(response: httpx.Response) -> HubError | None:
        status = response.status_code
        if status == 429:
            waited = retry_after_seconds(response)
            return RetriableError(
                ref[0].describe(response),
                retry_after=waited if waited is not None else RATE_LIMIT_WAIT,
            )
        if status in (401, 403):
            return AuthError(
                ref[0].describe(response),
                hint="Awin refused the Conversion API key: check `s2s_api_key` (the advertiser's "
                "API key for the Conversion API, not the user's API token) and `account_id`",
            )
        if status in (400, 404, 413, 422):
            return FatalConnectorError(
                ref[0].describe(response),
                hint="Awin refused the whole batch; check base_url and account_id, and lower "
                "batch_size if the body was too large",
            )
        return None

    return classify


def _group(item: Mapping[str, Any], settings: AwinConversionSettings) -> str:
    """The item's own ``commission_group`` if the source set one, else by its category."""
    if item.get("commission_group"):
        return str(item["commission_group"])
    category = str(item.get("category") or "").casefold()
    for name, code in settings.category_groups.items():
        if name.casefold() == category:
            return code
    return settings.commission_group


def _product(item: Mapping[str, Any], quantity: int, net: Decimal, code: str) -> dict[str, Any]:
    product: dict[str, Any] = {
        "id": str(item.get("line_ref") or item.get("sku") or ""),
        "name": str(item.get("title") or ""),
        "price": money.json_number(net / quantity),
        "quantity": quantity,
        "commissionGroupCode": code,
    }
    if item.get("sku"):
        product["sku"] = str(item["sku"])
    if item.get("category"):
        product["category"] = str(item["category"])
    return product


def _json_or_empty(response: httpx.Response) -> Mapping[str, Any]:
    """The answer's JSON object; ``{}`` for an empty or non-object body (a bare 202 is fine)."""
    if not response.content.strip():
        return {}
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        log.warning("Awin answered %s with a body that is not JSON", response.status_code)
        return {}
    return answer if isinstance(answer, Mapping) else {}
