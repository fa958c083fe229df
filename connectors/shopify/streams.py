"""The Shopify streams: orders, products (one record per variant) and customers.

Each stream is read incrementally on ``updated_at``: the first request asks
for ``updated_at_min=<saved cursor - lookback>`` (or ``start_date`` at 00:00
UTC), ``order=updated_at asc`` and ``limit=<page_size>``; later pages follow
the ``Link`` header's next URL exactly as given (``page_info`` carries the
filters). After every page a checkpoint saves ``{"updated_at": <the newest
updated_at seen, as Shopify wrote it>}``. Timestamps carry the shop's UTC
offset, so they are compared as instants, never as text.

Records are Shopify's, with two documented changes made before they leave
the connector (the mapping language cannot do either):

- **personal data is removed**: e-mail, phone, names, street addresses, IPs
  and payment receipts never reach the hub (:func:`strip_personal_data`);
  the e-mail survives only as its SHA-256 (``_hub.email_sha256``);
- **values the mapping cannot compute** are added under the key ``_hub``:
  what depends on the connection's settings (``order_ref``, ``click_ref``),
  what needs another API call (the shop currency of products), and what joins
  list elements to each other (the refunded quantity of each line item).

:func:`prepare_order` is public so that webhook bodies (an order with no
envelope) become exactly the records the ``orders`` stream yields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeGuard

from hub.connector import Checkpoint, Message, Record, Stream
from hub.errors import FatalConnectorError
from hub.mapping.converters import hash_value, query_param

from .client import ShopifyClient
from .settings import ShopifySettings

log = logging.getLogger("connectors.shopify")

CURSOR = "updated_at"
#: Key under which the connector adds the values it computed to a record.
HUB_KEY = "_hub"

_TIMESTAMP = {"type": "string", "format": "date-time"}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_MONEY = {"type": ["string", "null"], "description": "decimal string in shop currency"}
_MONEY_SET = {
    "type": ["object", "null"],
    "properties": {
        "shop_money": {"type": "object"},
        "presentment_money": {"type": "object"},
    },
}
_TEXT = {"type": ["string", "null"]}
_ID = {"type": "integer"}
_NULLABLE_ID = {"type": ["integer", "null"]}
_OBJECT = {"type": ["object", "null"]}
_ARRAY = {"type": ["array", "null"], "items": {"type": "object"}}

ORDERS = Stream(
    name="orders",
    primary_key=("id",),
    cursor_field=CURSOR,
    json_schema={
        "type": "object",
        "required": ["id", CURSOR],
        "properties": {
            "id": _ID,
            "name": _TEXT,
            "order_number": _NULLABLE_ID,
            "created_at": _TIMESTAMP,
            CURSOR: _TIMESTAMP,
            "processed_at": _NULLABLE_TIMESTAMP,
            "cancelled_at": _NULLABLE_TIMESTAMP,
            "cancel_reason": _TEXT,
            "test": {"type": "boolean"},
            "financial_status": _TEXT,
            "fulfillment_status": _TEXT,
            "source_name": _TEXT,
            "currency": _TEXT,
            "presentment_currency": _TEXT,
            "taxes_included": {"type": ["boolean", "null"]},
            "total_price": _MONEY,
            "total_price_set": _MONEY_SET,
            "current_total_price": _MONEY,
            "subtotal_price": _MONEY,
            "total_tax": _MONEY,
            "total_discounts": _MONEY,
            "discount_codes": _ARRAY,
            "note_attributes": _ARRAY,
            "landing_site": _TEXT,
            "referring_site": _TEXT,
            "client_details": _OBJECT,
            "customer": {**_OBJECT, "description": "without personal data; see README"},
            "billing_address": {**_OBJECT, "description": "country and province only"},
            "shipping_address": {**_OBJECT, "description": "country and province only"},
            "line_items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": _ID,
                        "product_id": _NULLABLE_ID,
                        "variant_id": _NULLABLE_ID,
                        "sku": _TEXT,
                        "title": _TEXT,
                        "name": _TEXT,
                        "quantity": {"type": "integer"},
                        "price": _MONEY,
                        "discount_allocations": _ARRAY,
                        HUB_KEY: {
                            "type": "object",
                            "properties": {"refunded_quantity": {"type": "integer"}},
                        },
                    },
                },
            },
            "refunds": _ARRAY,
            HUB_KEY: {
                "type": "object",
                "description": "values computed by the connector",
                "properties": {
                    "order_ref": _TEXT,
                    "click_ref": _TEXT,
                    "click_ref_name": _TEXT,
                    "click_ref_in": _TEXT,
                    "email_sha256": _TEXT,
                },
            },
        },
    },
    description="Orders of every status (status=any) with line items, discount codes, "
    "refunds and note attributes; personal data removed",
)
PRODUCTS = Stream(
    name="products",
    primary_key=("variant.id",),
    cursor_field=CURSOR,
    json_schema={
        "type": "object",
        "required": ["id", CURSOR, "variant"],
        "properties": {
            "id": _ID,
            "title": _TEXT,
            "vendor": _TEXT,
            "product_type": _TEXT,
            "handle": _TEXT,
            "status": _TEXT,
            "tags": _TEXT,
            "created_at": _TIMESTAMP,
            CURSOR: _TIMESTAMP,
            "published_at": _NULLABLE_TIMESTAMP,
            "variant": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": _ID,
                    "product_id": _ID,
                    "title": _TEXT,
                    "sku": _TEXT,
                    "barcode": _TEXT,
                    "price": _MONEY,
                    "compare_at_price": _MONEY,
                    CURSOR: _NULLABLE_TIMESTAMP,
                },
            },
            HUB_KEY: {
                "type": "object",
                "properties": {"shop_currency": _TEXT, "url": _TEXT},
            },
        },
    },
    description="One record per product variant: the product's fields with one `variant` "
    "(its `variants` list removed), plus the shop currency",
)
CUSTOMERS = Stream(
    name="customers",
    primary_key=("id",),
    cursor_field=CURSOR,
    json_schema={
        "type": "object",
        "required": ["id", CURSOR],
        "properties": {
            "id": _ID,
            "created_at": _TIMESTAMP,
            CURSOR: _TIMESTAMP,
            "state": _TEXT,
            "orders_count": {"type": ["integer", "null"]},
            "total_spent": _MONEY,
            "last_order_id": _NULLABLE_ID,
            "tags": _TEXT,
            "currency": _TEXT,
            HUB_KEY: {
                "type": "object",
                "properties": {"customer_ref": _TEXT, "email_sha256": _TEXT},
            },
        },
    },
    description="Customers without personal data (counts, state, tags, hashed references)",
)
STREAMS: tuple[Stream, ...] = (ORDERS, PRODUCTS, CUSTOMERS)


# --------------------------------------------------------------------------- personal data

#: Order fields that are personal data and are dropped.
ORDER_PERSONAL_FIELDS = ("email", "contact_email", "phone", "browser_ip", "order_status_url")
#: Address fields kept (everything else in an address is personal data).
ADDRESS_KEPT = ("country", "country_code", "province", "province_code")
#: Customer fields kept; names, e-mail, phone, addresses, notes and ids in other forms go.
CUSTOMER_KEPT = (
    "id",
    "state",
    "verified_email",
    "tax_exempt",
    "tax_exemptions",
    "tags",
    "currency",
    "created_at",
    "updated_at",
    "orders_count",
    "total_spent",
    "last_order_id",
    "last_order_name",
    "email_marketing_consent",
    "sms_marketing_consent",
)
#: Client details kept (the IP and the session hash go).
CLIENT_DETAILS_KEPT = ("accept_language", "browser_height", "browser_width", "user_agent")
#: Refund transaction fields dropped: payment receipts and card details name the payer.
TRANSACTION_PERSONAL_FIELDS = ("receipt", "payment_details")


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, with the usual case (a plain dict) answered first:
    the ABC check costs several times more than the class test."""
    return value.__class__ is dict or isinstance(value, Mapping)


def _kept(value: Any, keys: Sequence[str]) -> Any:
    """Only ``keys`` of a dict; anything else (null) unchanged."""
    if value.__class__ is not dict and not isinstance(value, Mapping):  # _is_mapping, inlined
        return value
    return {key: value[key] for key in keys if key in value}


def _without(value: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """A new dict: ``value`` without ``keys``, the other keys in their order.

    A plain dict (every parsed record) is copied at C speed and the few dropped
    keys deleted from the copy, which leaves the same keys in the same order as
    filtering item by item; other mappings are filtered through ``items()``.
    """
    if value.__class__ is dict:
        copy = value.copy()
        for key in keys:
            if key in copy:
                del copy[key]
        return copy
    dropped = set(keys)
    return {key: item for key, item in value.items() if key not in dropped}


#: Shipping line fields dropped.
_SHIPPING_LINE_PERSONAL_FIELDS = ("phone",)


def strip_personal_data(order: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``order`` without personal data (the input is not modified).

    Removed: ``email``, ``contact_email``, ``phone``, ``browser_ip``,
    ``order_status_url`` (it opens the buyer's order page); from both
    addresses everything but country and province; from ``customer``
    everything but its id, state, tags, consent states and timestamps; the IP
    and session hash from ``client_details``; the phone of shipping lines;
    receipts and card details of refund transactions. Free text the shop
    collects (``note``, ``note_attributes``, line item ``properties``) is kept
    as written: it is where shops put click ids and gift messages.
    """
    clean = _without(order, ORDER_PERSONAL_FIELDS)
    for key in ("billing_address", "shipping_address"):
        if key in clean:
            clean[key] = _kept(clean[key], ADDRESS_KEPT)
    if "customer" in clean:
        clean["customer"] = _kept(clean["customer"], CUSTOMER_KEPT)
    if "client_details" in clean:
        clean["client_details"] = _kept(clean["client_details"], CLIENT_DETAILS_KEPT)
    shipping_lines = clean.get("shipping_lines")
    if isinstance(shipping_lines, list):
        clean["shipping_lines"] = [
            _without(line, _SHIPPING_LINE_PERSONAL_FIELDS) if _is_mapping(line) else line
            for line in shipping_lines
        ]
    refunds = clean.get("refunds")
    if isinstance(refunds, list):
        clean["refunds"] = [_refund_without_payer(refund) for refund in refunds]
    return clean


def _refund_without_payer(refund: Any) -> Any:
    if not _is_mapping(refund):
        return refund
    transactions = refund.get("transactions")
    if not isinstance(transactions, list):
        return refund
    return {
        **refund,
        "transactions": [
            _without(t, TRANSACTION_PERSONAL_FIELDS) if _is_mapping(t) else t for t in transactions
        ],
    }


def _order_email(order: Mapping[str, Any]) -> Any:
    """The first non-blank e-mail of ``email``, ``contact_email``, ``customer.email``."""
    email = order.get("email")
    if isinstance(email, str) and email.strip():
        return email
    email = order.get("contact_email")
    if isinstance(email, str) and email.strip():
        return email
    customer = order.get("customer")
    email = customer.get("email") if _is_mapping(customer) else None
    if isinstance(email, str) and email.strip():
        return email
    return None


# --------------------------------------------------------------------------- orders


def order_ref(order: Mapping[str, Any], setting: str) -> str | None:
    """The order reference the shop's tracking sends to networks: ``order_number``,
    ``name`` or ``id`` (the ``order_ref`` setting), as text."""
    value = order.get(setting)
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def find_click_ref(
    order: Mapping[str, Any], names: Sequence[str]
) -> tuple[str, str, str] | tuple[None, None, None]:
    """``(value, name, where)`` of the first partner click id on the order.

    ``note_attributes`` first (names compared exactly: Shopify's cart
    attributes are case-sensitive), in the order the names are configured;
    then the query parameters of ``landing_site`` (a relative URL). Blank
    values do not count; a ``landing_site`` that is no URL holds none.
    """
    attributes = order.get("note_attributes")
    if isinstance(attributes, list) and attributes:
        by_name: dict[str, str] = {}
        for attribute in attributes:
            if not _is_mapping(attribute):
                continue
            name, value = attribute.get("name"), attribute.get("value")
            if isinstance(name, str) and value is not None:
                text = str(value).strip()
                if text:
                    by_name.setdefault(name, text)
        for name in names:
            if name in by_name:
                return by_name[name], name, "note_attributes"
    landing = order.get("landing_site")
    if landing:
        # What shopify_landing_param(order, name=name) gives, with landing_site read once.
        for name in names:
            try:
                found = query_param(landing, name=name)
            except (TypeError, ValueError):
                # not a URL ("https://[bad"): no click id here. The record goes on to its
                # mapping, which quarantines it with the reason, instead of the sync failing.
                break
            if found is not None:
                found = found.strip()
                if found:
                    return found, name, "landing_site"
            elif landing.__class__ is str and "?" not in landing:
                # No query (the usual landing page), so no other name is there either;
                # this first call has parsed the URL (or raised) as every call would.
                break
    return None, None, None


def refunded_quantities(order: Mapping[str, Any]) -> dict[Any, int]:
    """Line item id -> quantity refunded, summed over every refund of the order.

    Refunds made by cancelling the order (``restock_type: cancel``) count too:
    those items were taken back as well.
    """
    totals: dict[Any, int] = {}
    for refund in order.get("refunds") or ():
        if not _is_mapping(refund):
            continue
        for item in refund.get("refund_line_items") or ():
            if not _is_mapping(item):
                continue
            line_id = item.get("line_item_id")
            quantity = item.get("quantity")
            if line_id is None or isinstance(quantity, bool) or not isinstance(quantity, int):
                continue
            key = str(line_id)
            totals[key] = totals.get(key, 0) + quantity
    return totals


def prepare_order(order: Mapping[str, Any], settings: ShopifySettings) -> dict[str, Any]:
    """The record the ``orders`` stream yields for one Shopify order (REST or webhook body).

    Personal data is removed (:func:`strip_personal_data`) and ``_hub`` holds
    ``order_ref`` (per the ``order_ref`` setting), ``click_ref`` with the name
    and place it was found (per ``click_ref_attributes``) and the e-mail's
    SHA-256; each line item gets ``_hub.refunded_quantity``. Keys whose value
    would be null are left out.
    """
    click_ref, click_name, click_in = find_click_ref(order, settings.click_ref_attributes)
    email = _order_email(order)
    reference = order_ref(order, settings.order_ref)
    email_sha256 = hash_value(email) if email is not None else None
    record = strip_personal_data(order)
    computed: dict[str, Any] = {}
    if reference is not None:
        computed["order_ref"] = reference
    if click_ref is not None:
        computed["click_ref"] = click_ref
    if click_name is not None:
        computed["click_ref_name"] = click_name
    if click_in is not None:
        computed["click_ref_in"] = click_in
    if email_sha256 is not None:
        computed["email_sha256"] = email_sha256
    record[HUB_KEY] = computed
    lines = record.get("line_items")
    if isinstance(lines, list):
        record["line_items"] = _with_refunded_quantities(lines, refunded_quantities(order))
    return record


def _with_refunded_quantities(lines: list[Any], refunded: Mapping[str, int]) -> list[Any]:
    """Copies of the line items, each with ``_hub.refunded_quantity`` (other elements as
    they are). A plain dict is copied and given the key, which is what ``{**line, ...}``
    builds, without its intermediate dict."""
    result = []
    for line in lines:
        if line.__class__ is dict:
            copy = line.copy()
            copy[HUB_KEY] = {"refunded_quantity": refunded.get(str(line.get("id")), 0)}
            result.append(copy)
        elif isinstance(line, Mapping):
            result.append(
                {**line, HUB_KEY: {"refunded_quantity": refunded.get(str(line.get("id")), 0)}}
            )
        else:
            result.append(line)
    return result


# --------------------------------------------------------------------------- products, customers


def product_url(product: Mapping[str, Any], shop: str) -> str | None:
    """``https://<shop>.myshopify.com/products/<handle>`` (Shopify redirects it to the shop's
    domain), or null for a product without a handle or not published to the online store."""
    handle = product.get("handle")
    if not isinstance(handle, str) or not handle.strip() or not product.get("published_at"):
        return None
    return f"https://{shop}.myshopify.com/products/{handle.strip()}"


def product_records(
    product: Mapping[str, Any], *, shop_currency: str | None, shop: str
) -> list[dict[str, Any]]:
    """One record per variant: the product without ``variants``, plus ``variant`` and ``_hub``.

    A product has no canonical entity of its own; its variants are the SKUs.
    ``_hub.shop_currency`` is the currency of every price (products carry
    none), ``_hub.url`` the product page.
    """
    base = _without(product, ("variants",))
    computed = {"shop_currency": shop_currency, "url": product_url(product, shop)}
    computed = {key: value for key, value in computed.items() if value is not None}
    variants = product.get("variants")
    if not isinstance(variants, list):
        return []
    return [
        {**base, "variant": variant, HUB_KEY: dict(computed)}
        for variant in variants
        if isinstance(variant, Mapping)
    ]


def prepare_customer(customer: Mapping[str, Any]) -> dict[str, Any]:
    """A customer without personal data; ``_hub.customer_ref`` is the SHA-256 of the id,
    the same value the ``orders`` mapping stores as ``conversion.customer_ref``."""
    email = customer.get("email")
    computed = {
        "customer_ref": hash_value(customer["id"]) if customer.get("id") is not None else None,
        "email_sha256": hash_value(email) if isinstance(email, str) else None,
    }
    record = dict(_kept(customer, CUSTOMER_KEPT))
    record[HUB_KEY] = {key: value for key, value in computed.items() if value is not None}
    return record


def shop_details(client: ShopifyClient) -> dict[str, Any]:
    """``GET /shop.json``: the shop's name, currency, time zone (needs no special scope)."""
    data = client.get_json("/shop.json")
    shop = data.get("shop") if isinstance(data, Mapping) else None
    if not isinstance(shop, Mapping):
        raise FatalConnectorError(
            "GET /shop.json answered without a `shop` object; this is not the Shopify Admin API.",
            hint="check `shop` and `base_url` (it must point at https://<shop>.myshopify.com "
            "or a proxy of it, without /admin/api/...)",
        )
    return dict(shop)


# --------------------------------------------------------------------------- the cursor


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware instant (no offset: UTC); None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class CursorTracker:
    """The newest ``updated_at`` yielded so far, and what may be checkpointed.

    Results come ordered by ``updated_at`` (``order=updated_at asc``), so once
    a page has been yielded nothing older is still to come: the newest value
    is safe to checkpoint after each page. Should the API ever return an older
    value after a newer one (it ignored the sort), the tracker stops moving the
    checkpoint until the stream ends, so a run stopped halfway cannot skip the
    records it had not reached.
    """

    def __init__(self, stream: str, saved: str | None) -> None:
        self.stream = stream
        self.saved = saved
        self.newest_text = saved
        self.newest = parse_instant(saved) if saved is not None else None
        self.ordered = True
        # The newest of this run only: the lookback re-reads records older than the saved
        # cursor, and those are not out of order.
        self._run_newest: datetime | None = None

    def see(self, value: Any) -> None:
        """Note the ``updated_at`` of a record about to be yielded."""
        instant = parse_instant(value)
        if instant is None:
            log.warning(
                "shopify %s: a record has an unreadable updated_at %r; the cursor ignores it",
                self.stream,
                value,
            )
            return
        if self.ordered and self._run_newest is not None and instant < self._run_newest:
            self.ordered = False
            log.warning(
                "shopify %s: records are not ordered by updated_at (%s came after a newer "
                "one); the cursor will be saved only when the stream ends",
                self.stream,
                value,
            )
        if self._run_newest is None or instant > self._run_newest:
            self._run_newest = instant
        if self.newest is None or instant > self.newest:
            self.newest, self.newest_text = instant, value

    def state(self, *, last_page: bool) -> dict[str, Any]:
        """The checkpoint after a page: the newest cursor, or the saved one while the
        results are known to be out of order and the stream has not ended."""
        text = self.newest_text if (self.ordered or last_page) else self.saved
        return {} if text is None else {CURSOR: text}


def start_instant(settings: ShopifySettings, state: Mapping[str, Any], stream: str) -> datetime:
    """``updated_at_min`` of the first request: saved cursor minus the lookback, else
    ``start_date`` at 00:00 UTC."""
    saved = state.get(CURSOR)
    if saved is None:
        return datetime.combine(settings.start_date, time(), tzinfo=UTC)
    instant = parse_instant(saved)
    if instant is None:
        raise FatalConnectorError(
            f"the saved state of stream {stream!r} has an unreadable updated_at {saved!r}",
            hint=f"reset it with `hub state reset <connection> --stream {stream}`; the next "
            "sync then starts from start_date",
        )
    return instant - timedelta(minutes=settings.lookback_minutes)


# --------------------------------------------------------------------------- reading


def read_incremental(
    client: ShopifyClient,
    settings: ShopifySettings,
    stream: str,
    state: Mapping[str, Any],
    *,
    path: str,
    records_key: str,
    prepare: Callable[[Mapping[str, Any]], list[dict[str, Any]]],
    params: Mapping[str, Any] | None = None,
) -> Iterator[Message]:
    """Page through ``path`` from the saved cursor; a checkpoint after every page."""
    since = start_instant(settings, state, stream)
    first = {
        **(params or {}),
        "updated_at_min": since.isoformat(),
        "order": f"{CURSOR} asc",
        "limit": settings.page_size,
    }
    saved = state.get(CURSOR)
    tracker = CursorTracker(stream, saved if isinstance(saved, str) else None)
    for page in client.pages(path, first, records_key):
        for raw in page.records():
            if not isinstance(raw, Mapping):  # a record without id is quarantined by the mapping
                raise FatalConnectorError(
                    f"GET {path}: the {records_key!r} list holds a {type(raw).__name__}, "
                    "not JSON objects",
                    hint="check that base_url points at the Shopify Admin API",
                )
            tracker.see(raw.get(CURSOR))
            for record in prepare(raw):
                yield Record(stream, record)
        yield Checkpoint(stream, tracker.state(last_page=page.is_last))
        del page  # one page in memory at a time: not this one while the next is fetched
