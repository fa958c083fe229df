"""Shopify webhooks: verify a delivery's signature, turn an order delivery into records.

Shopify POSTs the resource JSON, with no envelope, and signs the raw body:
``X-Shopify-Hmac-Sha256`` is ``base64(HMAC-SHA256(secret, raw body))``, keyed
with the app's client secret (or the webhook signing secret shown in the admin
for admin-created webhooks). The signature must be checked on the bytes as
received, before any JSON parsing: re-serialised JSON does not match.

An ``orders/create`` or ``orders/updated`` body has the shape of a REST order,
so :func:`records_from_webhook` passes it through the orders stream's own
:func:`~connectors.shopify.streams.prepare_order` (personal data removed,
``_hub`` values computed from the connection's settings) and yields exactly
the records the ``orders`` stream yields for that order: a webhook endpoint
can feed the same pipeline as a sync. Deliveries are at least once and unordered: use
:attr:`WebhookDelivery.webhook_id` as the idempotency key and let the store's
latest-``updated_at``-wins upsert absorb stale retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import SecretStr

from hub.connector import Record
from hub.errors import HubError

from .settings import ShopifySettings
from .streams import ORDERS, prepare_order

#: The topics whose bodies are orders, as the orders stream yields them.
ORDER_TOPICS = ("orders/create", "orders/updated")

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
API_VERSION_HEADER = "X-Shopify-API-Version"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"


class WebhookError(HubError):
    """A delivery that must not be processed.

    ``reason`` tells an endpoint how to answer: ``signature`` (missing or wrong
    HMAC: 401), ``topic`` (not an order topic), ``shop`` (another shop's
    delivery), ``body`` (not a JSON order) or ``config`` (no secret configured).
    """

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


@dataclass(frozen=True)
class WebhookDelivery:
    """One verified order delivery: its metadata and the records it yields."""

    topic: str
    #: ``X-Shopify-Webhook-Id``: the same on every retry of a delivery; the idempotency key.
    webhook_id: str | None
    #: ``X-Shopify-Triggered-At``: when the event happened (UTC); spots stale retries.
    triggered_at: datetime | None
    shop_domain: str | None
    api_version: str | None
    event_id: str | None
    records: tuple[Record, ...]


def verify_webhook(raw_body: bytes, hmac_header: str | None, secret: str | SecretStr) -> bool:
    """True when ``hmac_header`` is the base64 HMAC-SHA256 of ``raw_body`` under ``secret``.

    The comparison is constant-time (:func:`hmac.compare_digest`), so the
    answer's timing says nothing about how much of a forged signature was
    right. A missing or empty header is False. ``raw_body`` must be the bytes
    as received: a ``str`` is refused, because decoding and re-encoding (or
    re-serialising parsed JSON) can change them.
    """
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        raise TypeError(
            f"verify_webhook needs the raw request body as bytes, not {type(raw_body).__name__}"
        )
    key = _secret_bytes(secret)
    if not hmac_header or not hmac_header.strip():
        return False
    digest = base64.b64encode(hmac.new(key, bytes(raw_body), hashlib.sha256).digest())
    return hmac.compare_digest(digest, hmac_header.strip().encode("utf-8"))


def parse_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    secret: str | SecretStr,
    *,
    settings: ShopifySettings,
) -> WebhookDelivery:
    """Verify an order delivery and return it with its ``orders`` records.

    The signature is checked first, on the raw bytes; then the topic (one of
    :data:`ORDER_TOPICS`); then that the delivery comes from the shop of
    ``settings`` (the connection's); then the body is parsed and prepared as
    the orders stream prepares it. Header names are case-insensitive. Raises
    :class:`WebhookError` when any check fails.
    """
    if not verify_webhook(raw_body, _header(headers, HMAC_HEADER), secret):
        missing = not (_header(headers, HMAC_HEADER) or "").strip()
        raise WebhookError(
            f"the webhook has no {HMAC_HEADER} header"
            if missing
            else f"the webhook's {HMAC_HEADER} signature does not match its body",
            reason="signature",
            hint="verify the raw request body exactly as received, with the app's client "
            "secret (or the signing secret shown under Settings > Notifications > Webhooks "
            "for webhooks created in the admin)",
        )
    topic = (_header(headers, TOPIC_HEADER) or "").strip()
    if topic not in ORDER_TOPICS:
        raise WebhookError(
            f"the webhook's topic {topic or '(none)'!r} is not an order topic; accepted: "
            f"{', '.join(ORDER_TOPICS)}",
            reason="topic",
            hint="subscribe this endpoint to orders/create and orders/updated only",
        )
    shop_domain = _header(headers, SHOP_HEADER)
    if shop_domain:
        shop = shop_domain.strip().lower().removesuffix(".myshopify.com")
        if shop != settings.shop:
            raise WebhookError(
                f"the webhook comes from the shop {shop_domain!r}, not from {settings.shop!r}",
                reason="shop",
                hint="route each shop's webhooks to the connection configured for that shop",
            )
    order = prepare_order(_order(raw_body), settings)
    return WebhookDelivery(
        topic=topic,
        webhook_id=_header(headers, WEBHOOK_ID_HEADER),
        triggered_at=_instant(_header(headers, TRIGGERED_AT_HEADER)),
        shop_domain=shop_domain,
        api_version=_header(headers, API_VERSION_HEADER),
        event_id=_header(headers, EVENT_ID_HEADER),
        records=(Record(ORDERS.name, order),),
    )


def records_from_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    secret: str | SecretStr,
    *,
    settings: ShopifySettings,
) -> list[Record]:
    """The records an ``orders/create`` or ``orders/updated`` delivery yields.

    Exactly what the ``orders`` stream yields for that order; see :func:`parse_webhook`.
    """
    return list(parse_webhook(raw_body, headers, secret, settings=settings).records)


# -- helpers ---------------------------------------------------------------------------------


def _secret_bytes(secret: str | SecretStr) -> bytes:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not isinstance(value, str) or not value:
        raise WebhookError(
            "no webhook secret is configured",
            reason="config",
            hint="set the app's client secret (or the admin's webhook signing secret)",
        )
    return value.encode("utf-8")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` ignoring case (plain dicts keep whatever case the server used)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((item for key, item in headers.items() if key.lower() == wanted), None)


def _order(raw_body: bytes) -> dict[str, Any]:
    try:
        order = orjson.loads(bytes(raw_body))
    except orjson.JSONDecodeError as exc:
        raise WebhookError(
            f"the webhook body is not JSON ({exc})",
            reason="body",
            hint="an order webhook must be subscribed with format json",
        ) from None
    if not isinstance(order, dict) or "id" not in order:
        raise WebhookError(
            "the webhook body is not an order (a JSON object with an id)",
            reason="body",
            hint="order topics deliver the order itself, without an envelope",
        )
    return order


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
