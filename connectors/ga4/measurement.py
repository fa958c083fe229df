"""The ``ga4-measurement`` destination: purchases GA4 did not see, via the Measurement Protocol.

GA4 only knows the purchases its tag saw in a browser. Orders placed by phone,
in a shop, by a server, or by a buyer who blocked the tag are missing, so
GA4's revenue is short of the shop's. This destination sends the tenant's
canonical conversions that GA4 did not report as ``purchase`` events with
their items, so GA4's revenue and item reports include them.

Protocol facts used ([V] verified in Google's Measurement Protocol guides
"Send Measurement Protocol events" and "Validate events"; [B] believed, not
verified):

- ``POST {base}/mp/collect?measurement_id=G-…&api_secret=…`` with a JSON body
  ``{"client_id", "user_id"?, "timestamp_micros"?, "non_personalized_ads"?,
  "events": [{"name", "params"}]}`` [V]. ``client_id`` identifies the browser
  for a web stream and must match the id the site's tag generated to join a
  user's sessions [V].
- The collect endpoint answers 2xx even for malformed or invalid events [V];
  ``POST {base}/debug/mp/collect`` (same parameters and body) records
  nothing and answers ``{"validationMessages": [{"fieldPath",
  "description", "validationCode"}]}`` [V]. It does not check ``api_secret``
  [V], so validation proves the events, never the secret.
- Events can be backdated at most 72 hours [V]. ``timestamp_micros`` per
  event (besides the request-level one) [B: third-party reports; the guide
  mentions "a timestamp hierarchy"]. At most 25 events per request and a body
  of at most 130 kB [B: the guide lists limits, the numbers are from memory].
  At most 200 items per event [B].
- ``purchase`` params ``transaction_id``, ``value``, ``currency``, ``tax``,
  ``shipping``, ``coupon`` and ``items[]`` with ``item_id``/``item_name``
  (one of them required), ``item_category``, ``price`` (the unit price after
  discount), ``quantity``, ``discount`` (per unit) [B: GA4's e-commerce
  reference, as remembered]. GA4 de-duplicates purchases by
  ``transaction_id`` [B], which makes a resent batch harmless.

Decisions (the GA4 connector's README and ADR carry them to users):

- **"Not seen by GA4"** = a conversion of another source (``sources``; by
  default every source but ``seen_sources``, i.e. ``ga4``) whose
  ``order_ref`` no conversion of a ``seen_sources`` source of the tenant has
  (GA4's ``transactionId``). So GA4 must be synced first: a real push refuses
  to run when the tenant has no GA4 purchases at all, instead of sending
  every order twice. ``order_ref`` and GA4's ``transactionId`` must be the
  same text (Shopify: the connection's ``order_ref`` setting).
- **Settling**: GA4 takes a day or two to report a purchase it saw [B], so a
  conversion younger than ``settle_hours`` (default 24) waits for a later push
  (reason ``waiting N hours for GA4's report``); with the 72-hour backdating
  limit, pushes must run at least once a day to catch every order.
- Eligible: status ``pending`` or ``approved`` (``statuses``), not a test
  order, occurred within ``max_age_hours`` (72: GA4 cannot backdate further),
  not yet sent to this measurement id.
- **value** = ``amount - refunded_amount`` in the conversion's currency (what
  the order is worth now; GA4's ``purchaseRevenue`` is the sum of ``value``).
  Items carry the units not refunded; ``tax`` and ``shipping`` are added when
  the source stored them (Shopify: ``total_tax``, ``total_shipping_price_set``
  in shop money). Amounts are JSON numbers rounded half-up to cents.
- **client_id**: the id the site's tag gave the buyer, when the shop captured
  it (``client_id_fields``: a Shopify cart attribute in ``note_attributes``, or
  a key of ``extra``; a ``_ga`` cookie value ``GA1.1.<n>.<t>`` becomes
  ``<n>.<t>``). Without one, ``without_client_id: derive`` (default) makes a
  stable pseudonymous id from the hashed customer (else the conversion), so
  GA4 counts the order under a new user of its own (no session, channel
  "Unassigned" [B]); ``skip`` leaves such conversions out.
- **Batches**: one request carries one client id, so events are grouped by
  client id, at most ``batch_size`` (25) per request and under the body
  limit. Each request is first posted to the debug endpoint
  (``validate_before_send``) because collect never reports errors: events
  with messages fail with those messages and are not sent.
  ``validate_only`` posts to the debug endpoint only and marks nothing.
- **Idempotent**: each sent conversion is marked, request by request, in
  ``extra._hub_links.ga4_mp[<measurement id>]`` (``sent_at``, ``client_id``,
  ``transaction_id``, ``value``) and never sent again.
- The ``api_secret`` travels in the query string: it is registered as a
  secret, and every URL shown (errors, logs, the dry-run plan) is redacted.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from sqlalchemy import ColumnElement, and_, exists, not_, select, true

from hub import money
from hub.connector import Destination, WriteResult
from hub.errors import FatalConnectorError, RecordError
from hub.http import HttpClient, RetryPolicy, redact_url
from hub.links import marks_of, record_marks
from hub.reader import conversions_with_items, describe_conversion
from hub.redaction import MASK, redact
from hub.store import Store

from .settings import GA4Settings

log = logging.getLogger(__name__)

DEFAULT_MP_BASE_URL = "https://www.google-analytics.com"
COLLECT_PATH = "/mp/collect"
DEBUG_PATH = "/debug/mp/collect"
#: Events per request the protocol accepts [B].
MAX_EVENTS = 25
#: Largest request body the protocol accepts (130 kB) [B].
MAX_BODY_BYTES = 130_000
#: How far back an event may be dated [V].
MAX_BACKDATE_HOURS = 72
#: Items per event [B].
MAX_ITEMS = 200
LINK_SYSTEM = "ga4_mp"
#: The source whose conversions are the purchases GA4 itself reported.
GA4_SOURCE = "ga4"
#: How many conversions wait for more events of their client id before all are sent.
PENDING_LIMIT = 500
_MEASUREMENT_ID = re.compile(r"^G-[A-Z0-9]{4,20}$")
_GA_COOKIE = re.compile(r"^GA\d+\.\d+\.(\d+\.\d+)$")
_EVENT_INDEX = re.compile(r"events\[(\d+)\]")
_DESCRIBED_INDEX = re.compile(r"(?i)event at index:?\s*\[(\d+)\]")
# Collect answers 2xx for anything it can parse, so only 429/5xx and the network are retried;
# a resent purchase is de-duplicated by transaction_id [B].
POST_RETRY = RetryPolicy(max_attempts=4, backoff_base=2.0, max_total_wait=120.0, jitter=0.2)


class GA4MeasurementSettings(GA4Settings):
    """A GA4 web data stream's Measurement Protocol credentials and what is sent to it.

    Meant for the ``push.ga4-measurement:`` block of a GA4 connection: the
    source's ``config:`` keys are laid under it (``docs/config.md``) and
    accepted here, but none of them is needed; the Data API credentials are
    not used (the Measurement Protocol authenticates with ``api_secret``).
    """

    property_id: int | None = Field(  # type: ignore[assignment]
        default=None,
        gt=0,
        description="Not used by the destination; allowed so that the source connection's "
        "config block is reused as is.",
    )
    start_date: date | None = Field(  # type: ignore[assignment]
        default=None, description="Not used by the destination."
    )
    measurement_id: str = Field(
        description="The web data stream's measurement id, `G-XXXXXXX` (Admin > Data streams > "
        "your stream). Not the property id."
    )
    api_secret: SecretStr = Field(
        description="A Measurement Protocol API secret of that stream (Admin > Data streams > "
        "your stream > Measurement Protocol API secrets). It travels in the URL; put it in the "
        "push block from the environment (`${GA4_MP_SECRET}`)."
    )
    mp_base_url: str = Field(
        default=DEFAULT_MP_BASE_URL,
        description="Override of https://www.google-analytics.com (EU collection host "
        "region1.google-analytics.com, a proxy, a local fake).",
    )
    validate_only: bool = Field(
        default=False,
        description="Post the events to the validation endpoint (/debug/mp/collect) only and "
        "report its messages per conversion; GA4 records nothing and nothing is marked.",
    )
    validate_before_send: bool = Field(
        default=True,
        description="Validate each request on the debug endpoint before sending it (the "
        "collect endpoint never reports errors); events with messages are not sent.",
    )
    sources: tuple[str, ...] | None = Field(
        default=None,
        description="The conversion sources to send (e.g. [shopify]); default: every source "
        "except seen_sources.",
    )
    seen_sources: tuple[str, ...] = Field(
        default=(GA4_SOURCE,),
        description="Sources whose conversions are purchases GA4 reported: an order_ref among "
        "them is never sent. [] sends without checking (only when GA4 is not synced at all).",
    )
    statuses: tuple[str, ...] = Field(
        default=("pending", "approved"),
        min_length=1,
        description="Conversion statuses that are sent (declined and cancelled are not).",
    )
    max_age_hours: int = Field(
        default=MAX_BACKDATE_HOURS,
        ge=1,
        le=MAX_BACKDATE_HOURS,
        description="Conversions older than this are not sent (GA4 backdates at most 72 hours).",
    )
    settle_hours: int = Field(
        default=24,
        ge=0,
        description="Conversions younger than this wait for a later push: GA4 may still be "
        "processing a purchase it did see.",
    )
    client_id_fields: tuple[str, ...] = Field(
        default=("_ga", "ga_client_id", "client_id"),
        description="Names under which the shop captured the GA client id: cart attributes "
        "(Shopify note_attributes) or keys of the conversion's extra, first found wins.",
    )
    session_id_fields: tuple[str, ...] = Field(
        default=("ga_session_id",),
        description="Names under which the shop captured the GA session id (attributes the "
        "purchase to that session's channel).",
    )
    without_client_id: Literal["derive", "skip"] = Field(
        default="derive",
        description="`derive`: a stable pseudonymous id from the hashed customer (GA4 counts a "
        "new user, no session); `skip`: conversions without a captured client id are not sent.",
    )
    send_user_id: bool = Field(
        default=False,
        description="Send the hashed customer_ref as user_id (only for properties using "
        "User-ID with the same hash).",
    )
    non_personalized_ads: bool = Field(
        default=True,
        description="Mark the events as not for ad personalisation (no consent is known for "
        "orders sent from a server).",
    )
    batch_size: int = Field(
        default=MAX_EVENTS,
        ge=1,
        le=MAX_EVENTS,
        description="Events per request (the protocol allows 25).",
    )

    @field_validator("measurement_id")
    @classmethod
    def _measurement_id(cls, value: str) -> str:
        value = value.strip()
        if not _MEASUREMENT_ID.match(value):
            raise ValueError(
                f"{value!r} is not a GA4 measurement id: it looks like G-XXXXXXXXXX (Admin > "
                "Data streams > your web stream); the numeric property id does not go here"
            )
        return value

    @field_validator("api_secret")
    @classmethod
    def _api_secret(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if len(text) < 8 or any(ch.isspace() or ch in "&#" for ch in text):
            raise ValueError(
                "api_secret must be a Measurement Protocol API secret (about 22 characters, "
                "no spaces); create one under Admin > Data streams > your stream"
            )
        return SecretStr(text)

    @model_validator(mode="after")
    def _one_credential(self) -> GA4MeasurementSettings:
        """The source's credential rule, relaxed: the destination needs none of them."""
        given = [
            name
            for name in ("service_account_key", "service_account_file", "access_token")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give at most one of {', '.join(given)}")
        return self

    @model_validator(mode="after")
    def _windows(self) -> GA4MeasurementSettings:
        if self.settle_hours >= self.max_age_hours:
            raise ValueError(
                f"settle_hours ({self.settle_hours}) must be below max_age_hours "
                f"({self.max_age_hours}), or nothing could ever be sent"
            )
        if self.sources is not None and set(self.sources) & set(self.seen_sources):
            raise ValueError("sources must not include a source of seen_sources")
        return self


# -- conversion -> purchase event ------------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    """One ``purchase`` event built from one canonical conversion."""

    conversion_id: str
    description: str
    client_id: str
    client_id_derived: bool
    event: dict[str, Any]
    value: Decimal
    currency: str
    user_id: str | None = None

    @property
    def transaction_id(self) -> str:
        return str(self.event["params"]["transaction_id"])

    def size(self) -> int:
        return len(orjson.dumps(self.event))


def purchase_from_conversion(
    conversion: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    settings: GA4MeasurementSettings,
    client_id: tuple[str, bool] | None = None,
) -> Purchase:
    """The ``purchase`` event of ``conversion``; RecordError when it cannot be built.

    ``client_id`` is ``(id, derived)``; by default :func:`client_id_of` finds it.
    """
    where = describe_conversion(conversion)
    ref = str(conversion.get("order_ref") or "").strip()
    if not ref:
        raise RecordError(f"{where}: has no order_ref; GA4 needs it as transaction_id")
    currency = str(conversion.get("currency") or "").upper()
    if len(currency) != 3:
        raise RecordError(f"{where}: has no currency")
    occurred = _aware(conversion.get("occurred_at"))
    if occurred is None:
        raise RecordError(f"{where}: has no occurred_at")
    if client_id is None:
        client_id = client_id_of(conversion, settings)
    if client_id is None:
        raise RecordError(f"{where}: has no GA client id")
    total = money.amount(conversion.get("amount"), f"{where}: amount")
    refunded = money.amount(conversion.get("refunded_amount") or 0, f"{where}: refunded_amount")
    value = money.cents(max(total - refunded, Decimal(0)))
    params: dict[str, Any] = {
        "transaction_id": ref,
        "value": money.json_number(value),
        "currency": currency,
    }
    extra = conversion.get("extra") or {}
    for name, paths in (("tax", _TAX_PATHS), ("shipping", _SHIPPING_PATHS)):
        amount = _extra_money(extra, paths, currency, f"{where}: {name}")
        if amount is not None:
            params[name] = money.json_number(amount)
    vouchers = [str(code) for code in conversion.get("voucher_codes") or [] if code]
    if vouchers:
        params["coupon"] = vouchers[0]
    lines = [line for item in items if (line := _item(item, currency, where)) is not None]
    if len(lines) > MAX_ITEMS:
        raise RecordError(
            f"{where}: has {len(lines)} items; GA4 takes at most {MAX_ITEMS} per event",
            hint="such an order cannot be sent whole; leave it out with sources or statuses",
        )
    if lines:
        params["items"] = lines
    session = _captured(extra, settings.session_id_fields)
    if session:
        params["session_id"] = int(session) if session.isdigit() else session
        # GA4 counts a session's activity only with engagement time [B].
        params["engagement_time_msec"] = 1
    micros = int(occurred.timestamp() * 1_000_000)
    event = {"name": "purchase", "params": params, "timestamp_micros": micros}
    user_id = None
    if settings.send_user_id and conversion.get("customer_ref"):
        user_id = str(conversion["customer_ref"])
    return Purchase(
        conversion_id=str(conversion["id"]),
        description=where,
        client_id=client_id[0],
        client_id_derived=client_id[1],
        event=event,
        value=value,
        currency=currency,
        user_id=user_id,
    )


_TAX_PATHS = (("total_tax",), ("tax",))
_SHIPPING_PATHS = (("total_shipping_price_set", "shop_money", "amount"), ("shipping",))


def _item(item: Mapping[str, Any], currency: str, where: str) -> dict[str, Any] | None:
    """The GA4 item of one conversion_item for the units not refunded (None: nothing left)."""
    label = item.get("line_ref") or item.get("sku") or "?"
    line = f"{where}, item {label}"
    quantity = money.whole(item.get("quantity"), f"{line}: quantity")
    refunded = money.whole(item.get("refunded_quantity") or 0, f"{line}: refunded_quantity")
    kept = quantity - refunded
    if quantity <= 0 or kept <= 0:
        return None
    item_currency = str(item.get("currency") or currency).upper()
    if item_currency != currency:
        raise RecordError(
            f"{line}: is in {item_currency}, the order in {currency}; GA4 takes one currency "
            "per event"
        )
    discount = money.amount(item.get("discount") or 0, f"{line}: discount")
    if item.get("amount") is not None:
        net = money.amount(item.get("amount"), f"{line}: amount")
    else:
        net = money.amount(item.get("unit_price"), f"{line}: unit_price") * quantity - discount
    identifier = str(item.get("sku") or item.get("line_ref") or "").strip()
    name = str(item.get("title") or "").strip()
    if not identifier and not name:
        raise RecordError(f"{line}: has neither sku, line_ref nor title; GA4 needs one")
    result: dict[str, Any] = {}
    if identifier:
        result["item_id"] = identifier
    if name:
        result["item_name"] = name
    if item.get("category"):
        result["item_category"] = str(item["category"])
    result["price"] = money.json_number(money.cents(net / quantity))
    result["quantity"] = kept
    if discount > 0:
        result["discount"] = money.json_number(money.cents(discount / quantity))
    return result


def client_id_of(
    conversion: Mapping[str, Any], settings: GA4MeasurementSettings
) -> tuple[str, bool] | None:
    """``(client id, derived)`` of ``conversion``; None when none is captured and none derived.

    A captured ``_ga`` cookie value (``GA1.1.1234567890.1700000000``) becomes the
    client id inside it (``1234567890.1700000000``). A derived id is stable per
    measurement id and customer (else conversion) and shaped like a real one.
    """
    captured = _captured(conversion.get("extra") or {}, settings.client_id_fields)
    if captured:
        cookie = _GA_COOKIE.match(captured)
        return (cookie.group(1) if cookie else captured), False
    if settings.without_client_id == "skip":
        return None
    key = str(conversion.get("customer_ref") or f"conversion:{conversion.get('id')}")
    digest = hashlib.sha256(f"{settings.measurement_id}\x00{key}".encode()).hexdigest()
    first = int(digest[:12], 16) % 9_000_000_000 + 1_000_000_000
    second = int(digest[12:24], 16) % 9_000_000_000 + 1_000_000_000
    return f"{first}.{second}", True


def _captured(extra: Mapping[str, Any], names: Sequence[str]) -> str | None:
    """The first of ``names`` among the cart attributes, else among the keys of ``extra``."""
    attributes = extra.get("note_attributes")
    by_name: dict[str, str] = {}
    if isinstance(attributes, list):
        for attribute in attributes:
            if isinstance(attribute, Mapping) and isinstance(attribute.get("name"), str):
                text = str(attribute.get("value") or "").strip()
                if text:
                    by_name.setdefault(attribute["name"], text)
    for name in names:
        if name in by_name:
            return by_name[name]
        value = extra.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


# -- the result ------------------------------------------------------------------------------


@dataclass
class MeasurementWriteResult(WriteResult):
    """What ``write`` did: the hub's counters, skip reasons, validation messages, links.

    ``sent`` counts events posted to collect; ``validated`` the events the
    validation endpoint found no fault with (in validation-only mode);
    ``messages`` the validation messages per conversion; ``links`` maps each
    sent conversion id to what was marked on it.
    """

    dry_run: bool = False
    validate_only: bool = False
    skipped: int = 0
    validated: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def summary(self) -> str:
        if self.dry_run:
            head = "GA4 Measurement Protocol (dry run, nothing sent)"
            done = f"{sum(len(p['body']['events']) for p in self.planned)} to send"
        elif self.validate_only:
            head = "GA4 Measurement Protocol (validation only, nothing recorded)"
            done = f"{self.validated} valid"
        else:
            head = "GA4 Measurement Protocol"
            done = f"{self.sent} sent"
        skipped = f"{self.skipped} skipped"
        if self.skip_reasons:
            reasons = ", ".join(f"{why}: {n}" for why, n in sorted(self.skip_reasons.items()))
            skipped += f" ({reasons})"
        lines = [f"{head}: {done}, {self.unchanged} unchanged, {skipped}, {self.failed} failed"]
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        for request in self.planned:
            lines.append(f"  {request['method']} {request['url']}")
            lines.append(f"    client_id {request['body']['client_id']}")
            lines.extend(
                f"    {orjson.dumps(event).decode()}" for event in request["body"]["events"]
            )
        lines.extend(f"  error: {error}" for error in self.errors)
        return redact("\n".join(lines))


# -- the destination -------------------------------------------------------------------------


class GA4MeasurementDestination(Destination):
    """Sends conversions GA4 did not see as ``purchase`` events (Measurement Protocol)."""

    name: ClassVar[str] = "ga4-measurement"
    config_model: ClassVar[type[BaseModel]] = GA4MeasurementSettings
    summary: ClassVar[str] = "GA4: orders GA4 did not see as Measurement Protocol purchases"
    entity: ClassVar[str] = "conversion"

    config: GA4MeasurementSettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(config, transport=transport)
        secret = self.config.api_secret
        self.http = HttpClient(
            self.config.mp_base_url,
            headers={"Content-Type": "application/json"},
            secrets=[secret],
            transport=transport,
            retry=POST_RETRY,
            sleep=sleep,
        )
        self._now = now or (lambda: datetime.now(UTC))
        #: called with each sent request's links (push() marks them in the store at once)
        self._on_batch: Callable[[Mapping[str, Mapping[str, Any]]], None] | None = None

    @property
    def _params(self) -> dict[str, str]:
        return {
            "measurement_id": self.config.measurement_id,
            "api_secret": self.config.api_secret.get_secret_value(),
        }

    def shown_url(self, path: str) -> str:
        """The URL of ``path`` as people may see it: the api_secret masked."""
        url = self.http.resolve_url(path, params=self._params)
        shown = redact_url(url)
        # Belt and braces: mask by name too, whether or not the value was registered.
        return re.sub(r"(api_secret=)[^&]*", rf"\g<1>{MASK}", shown)

    def check(self) -> None:
        """Validate one sample purchase on the debug endpoint (GA4 records nothing).

        Proves ``mp_base_url`` and the body format; the debug endpoint does not
        check ``api_secret`` [V], so a wrong secret shows only in GA4's reports.
        """
        body = {
            "client_id": "1000000000.1000000000",
            "events": [
                {
                    "name": "purchase",
                    "params": {"transaction_id": "hub-check", "value": 1.0, "currency": "EUR"},
                }
            ],
        }
        messages = self._debug(body)
        if messages:
            text = "; ".join(_message_text(m) for m in messages)
            raise FatalConnectorError(
                f"GA4's validation endpoint refused a sample purchase: {text}",
                hint="check measurement_id (a web stream's G-XXXXXXX) and mp_base_url",
            )

    def push(
        self,
        store: Store,
        *,
        tenant: str,
        dry_run: bool = False,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> MeasurementWriteResult:
        """``hub push ga4-measurement``: the tenant's conversions GA4 did not see; sent ones marked.

        A real push refuses to run when ``seen_sources`` is set but the tenant
        has no conversion of those sources: GA4 is not synced, so every order
        would look unseen and be counted twice.
        """
        if rows is not None:  # rows of a file: not stored conversions, nothing to mark
            return self.write(rows, dry_run=dry_run)
        warnings: list[str] = []
        if self.config.seen_sources and not has_seen_conversions(
            store, tenant, self.config.seen_sources
        ):
            problem = (
                f"tenant {tenant!r} has no conversions of {', '.join(self.config.seen_sources)}: "
                "without GA4's purchases every order looks unseen and would be counted twice"
            )
            fix = (
                "sync the GA4 connection first (hub sync <connection>); if GA4 has no purchase "
                "tracking at all, set seen_sources: [] in push.ga4-measurement"
            )
            if not (dry_run or self.config.validate_only):
                raise FatalConnectorError(problem, hint=fix)
            warnings.append(f"{problem}; {fix}")
        measurement_id = self.config.measurement_id

        def mark(links: Mapping[str, Mapping[str, Any]]) -> None:
            # request by request: a later failure must not lose the marks of sent events
            record_sent(store, tenant, measurement_id, links, self._now())

        self._on_batch = mark
        try:
            conversions = load_conversions(store, tenant, self.config, self._now())
            result = self.write(conversions, dry_run=dry_run)
        finally:
            self._on_batch = None
        result.warnings[:0] = warnings
        return result

    def write(
        self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> MeasurementWriteResult:
        """Send the eligible conversions of ``rows`` (each with its ``items``).

        Rows are canonical conversions with an ``items`` list of their
        conversion_item rows (:func:`load_conversions` builds them); a row may
        carry ``seen_by_ga4`` (true: GA4 reported its order_ref).
        """
        result = MeasurementWriteResult(dry_run=dry_run, validate_only=self.config.validate_only)
        now = self._now()
        pending: dict[str, list[Purchase]] = {}
        waiting = 0
        seen_refs: set[str] = set()
        for row in rows:
            reason = self._skip_reason(row, now)
            if reason == "already sent":
                result.unchanged += 1
                continue
            if reason:
                result.skip(reason)
                continue
            client = client_id_of(row, self.config)
            if client is None:
                result.skip("no GA client id")
                continue
            try:
                purchase = purchase_from_conversion(
                    row, row.get("items") or [], self.config, client
                )
            except RecordError as exc:
                result.failed += 1
                result.errors.append(redact(str(exc)))
                continue
            if purchase.value <= 0:
                result.skip("nothing left (refunded or zero)")
                continue
            if purchase.transaction_id in seen_refs:
                result.failed += 1
                result.errors.append(
                    f"{purchase.description}: another conversion of this push has order_ref "
                    f"{purchase.transaction_id!r}; GA4 keeps one purchase per transaction_id"
                )
                continue
            seen_refs.add(purchase.transaction_id)
            group = pending.setdefault(self._group_key(purchase), [])
            group.append(purchase)
            waiting += 1
            if len(group) == self.config.batch_size:
                waiting -= len(group)
                self._flush(pending.pop(self._group_key(purchase)), result)
            elif waiting >= PENDING_LIMIT:  # memory stays flat: send what waits
                for key in list(pending):
                    self._flush(pending.pop(key), result)
                waiting = 0
        for key in list(pending):
            self._flush(pending.pop(key), result)
        log.info("%s", result.summary().splitlines()[0])
        return result

    def close(self) -> None:
        self.http.close()

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _group_key(purchase: Purchase) -> str:
        return f"{purchase.client_id}\x00{purchase.user_id or ''}"

    def _skip_reason(self, row: Mapping[str, Any], now: datetime) -> str | None:
        if self.config.measurement_id in marks_of(row, LINK_SYSTEM):
            return "already sent"
        source = str(row.get("source") or "")
        if source in self.config.seen_sources:
            return "a GA4 purchase"
        if self.config.sources is not None and source not in self.config.sources:
            return f"source {source or '(none)'} not in sources"
        if row.get("seen_by_ga4"):
            return "seen by GA4"
        if row.get("is_test"):
            return "test order"
        if str(row.get("status") or "") not in self.config.statuses:
            return f"status {row.get('status') or '(none)'}"
        occurred = _aware(row.get("occurred_at"))
        if occurred is None:
            return "no occurred_at"
        if occurred < now - timedelta(hours=self.config.max_age_hours):
            return f"older than {self.config.max_age_hours} hours"
        if occurred > now - timedelta(hours=self.config.settle_hours):
            return f"waiting {self.config.settle_hours} hours for GA4's report"
        return None

    def _bodies(self, purchases: list[Purchase]) -> Iterator[tuple[dict[str, Any], list[Purchase]]]:
        """Request bodies of one client id's purchases, each under the body limit."""
        chunk: list[Purchase] = []
        for purchase in purchases:
            candidate = [*chunk, purchase]
            if chunk and len(orjson.dumps(self._body(candidate))) > MAX_BODY_BYTES:
                yield self._body(chunk), chunk
                candidate = [purchase]
            chunk = candidate
        if chunk:
            yield self._body(chunk), chunk

    def _body(self, purchases: list[Purchase]) -> dict[str, Any]:
        first = purchases[0]
        body: dict[str, Any] = {"client_id": first.client_id}
        if first.user_id:
            body["user_id"] = first.user_id
        if len(purchases) == 1:  # also at request level, should per-event time be ignored [B]
            body["timestamp_micros"] = first.event["timestamp_micros"]
        if self.config.non_personalized_ads:
            body["non_personalized_ads"] = True
        body["events"] = [purchase.event for purchase in purchases]
        return body

    def _flush(self, purchases: list[Purchase], result: MeasurementWriteResult) -> None:
        for body, chunk in self._bodies(purchases):
            if len(orjson.dumps(body)) > MAX_BODY_BYTES:
                result.failed += 1
                result.errors.append(
                    f"{chunk[0].description}: its event is larger than GA4's "
                    f"{MAX_BODY_BYTES // 1000} kB request limit"
                )
                continue
            self._send(body, chunk, result)

    def _send(
        self, body: dict[str, Any], purchases: list[Purchase], result: MeasurementWriteResult
    ) -> None:
        validating = self.config.validate_only or self.config.validate_before_send
        if result.dry_run:
            path = DEBUG_PATH if self.config.validate_only else COLLECT_PATH
            result.planned.append({"method": "POST", "url": self.shown_url(path), "body": body})
            return
        refused: dict[int, list[dict[str, str]]] = {}
        if validating:
            refused = self._attribute(self._debug(body), len(purchases))
            for index, messages in sorted(refused.items()):
                purchase = purchases[index]
                result.failed += 1
                for message in messages:
                    result.messages.append(
                        {
                            "conversion_id": purchase.conversion_id,
                            "transaction_id": purchase.transaction_id,
                            **message,
                        }
                    )
                text = "; ".join(_message_text(m) for m in messages)
                result.errors.append(redact(f"{purchase.description}: GA4 refused it: {text}"))
        valid = [p for index, p in enumerate(purchases) if index not in refused]
        if self.config.validate_only:
            result.validated += len(valid)
            return
        if not valid:
            return
        if refused:
            body = self._body(valid)
        self.http.request("POST", COLLECT_PATH, params=self._params, content=orjson.dumps(body))
        result.sent += len(valid)
        sent_at = self._now().astimezone(UTC).isoformat()
        links = {
            purchase.conversion_id: {
                "sent_at": sent_at,
                "client_id": purchase.client_id,
                "client_id_derived": purchase.client_id_derived,
                "transaction_id": purchase.transaction_id,
                "value": str(purchase.value),
                "currency": purchase.currency,
            }
            for purchase in valid
        }
        result.links.update(links)
        if self._on_batch is not None:
            self._on_batch(links)

    def _debug(self, body: Mapping[str, Any]) -> list[dict[str, str]]:
        """The validation endpoint's messages for ``body`` (empty: valid)."""
        answer = self.http.post_json(DEBUG_PATH, params=self._params, content=orjson.dumps(body))
        raw = answer.get("validationMessages") if isinstance(answer, Mapping) else None
        if not isinstance(raw, list):
            raise FatalConnectorError(
                f"POST {self.shown_url(DEBUG_PATH)} answered without validationMessages",
                hint="check mp_base_url: it must point at GA4's collection host or a faithful "
                "proxy",
            )
        return [
            {
                "field_path": str(m.get("fieldPath") or ""),
                "description": str(m.get("description") or ""),
                "validation_code": str(m.get("validationCode") or ""),
            }
            for m in raw
            if isinstance(m, Mapping)
        ]

    @staticmethod
    def _attribute(messages: list[dict[str, str]], count: int) -> dict[int, list[dict[str, str]]]:
        """Messages per event index; one naming no event counts against every event."""
        by_event: dict[int, list[dict[str, str]]] = {}
        for message in messages:
            found = _EVENT_INDEX.search(message["field_path"]) or _DESCRIBED_INDEX.search(
                message["description"]
            )
            index = int(found.group(1)) if found else None
            targets = [index] if index is not None and index < count else range(count)
            for target in targets:
                by_event.setdefault(target, []).append(message)
        return by_event


# -- the store side --------------------------------------------------------------------------


def has_seen_conversions(store: Store, tenant: str, sources: Sequence[str]) -> bool:
    """Whether the tenant holds any conversion of ``sources`` (GA4 has been synced)."""
    table = store.table("conversion")
    query = (
        select(table.c.id)
        .where(and_(table.c.tenant == tenant, table.c.source.in_(list(sources))))
        .limit(1)
    )
    with store.transaction() as connection:
        return connection.execute(query).first() is not None


def load_conversions(
    store: Store,
    tenant: str,
    settings: GA4MeasurementSettings,
    now: datetime,
    page_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """The tenant's conversions that may be sent, each with ``items`` and ``seen_by_ga4``.

    Narrowed in SQL to the sources sent and the last ``max_age_hours``;
    ``seen_by_ga4`` is an EXISTS on a conversion of ``seen_sources`` with the
    same order_ref, so :meth:`GA4MeasurementDestination.write` can name the
    reason. Pages of ``page_size`` keep memory flat.
    """
    conversions = store.table("conversion").alias("c")
    ga4 = store.table("conversion").alias("g")
    cutoff = now - timedelta(hours=settings.max_age_hours)
    seen = list(settings.seen_sources)
    if seen:
        seen_by_ga4 = exists(
            select(ga4.c.id).where(
                and_(
                    ga4.c.tenant == conversions.c.tenant,
                    ga4.c.source.in_(seen),
                    ga4.c.order_ref == conversions.c.order_ref,
                )
            )
        ).label("seen_by_ga4")
        source_filter: ColumnElement[bool] = not_(conversions.c.source.in_(seen))
    else:
        seen_by_ga4 = None
        source_filter = true()
    if settings.sources is not None:
        source_filter = and_(source_filter, conversions.c.source.in_(list(settings.sources)))
    where = and_(conversions.c.tenant == tenant, source_filter, conversions.c.occurred_at >= cutoff)
    extra = () if seen_by_ga4 is None else (seen_by_ga4,)
    for row in conversions_with_items(
        store, conversions, where, columns=extra, page_size=page_size
    ):
        row["seen_by_ga4"] = bool(row.get("seen_by_ga4"))
        yield row


def record_sent(
    store: Store,
    tenant: str,
    measurement_id: str,
    links: Mapping[str, Mapping[str, Any]],
    at: datetime,
) -> int:
    """Mark each sent conversion: ``extra._hub_links.ga4_mp[measurement_id]`` (no new version)."""
    sent_at = at.astimezone(UTC).isoformat()
    marks = {row_id: {**link, "sent_at": sent_at} for row_id, link in links.items()}
    return record_marks(store, "conversion", LINK_SYSTEM, measurement_id, marks, tenant=tenant)


# -- helpers ---------------------------------------------------------------------------------


def _message_text(message: Mapping[str, str]) -> str:
    code = message.get("validation_code") or "INVALID"
    path = message.get("field_path")
    where = f" at {path}" if path else ""
    return f"{code}{where}: {message.get('description') or 'no description'}"


def _aware(value: Any) -> datetime | None:
    """A timezone-aware instant: a datetime, or ISO 8601 text with an offset (rows of a file).

    Naive values are UTC, as the store keeps them; anything else is None.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _extra_money(
    extra: Mapping[str, Any], paths: Sequence[Sequence[str]], currency: str, where: str
) -> Decimal | None:
    """The first amount found at one of ``paths`` in ``extra`` (shop money), or None.

    A Shopify ``*_set.shop_money`` in another currency than the order is ignored.
    """
    for path in paths:
        node: Any = extra
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is None or node == "":
            continue
        if len(path) > 1:
            holder: Any = extra
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, Mapping) else None
            code = holder.get("currency_code") if isinstance(holder, Mapping) else None
            if code and str(code).upper() != currency:
                continue
        return money.cents(money.amount(node, where))
    return None
