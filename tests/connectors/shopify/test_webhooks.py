"""Shopify order webhooks: signature over the raw body, topics, and the records they yield."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.shopify import ShopifyConnector, webhooks
from connectors.shopify.settings import ShopifySettings
from connectors.shopify.webhooks import (
    ORDER_TOPICS,
    WebhookError,
    parse_webhook,
    records_from_webhook,
    verify_webhook,
)
from hub.connector import Record

SECRET = "whsec_9f8e7d6c5b4a3f2e1d0c"
SHOP = "alpenglueck"
SETTINGS = ShopifySettings(
    shop=SHOP, access_token="shpat_unused_here_1234", start_date="2025-01-01"
)

# An orders/create body as Shopify sends it: no envelope, compact, non-ASCII left as UTF-8.
ORDER: dict[str, Any] = {
    "id": 6123400000042,
    "admin_graphql_api_id": "gid://shopify/Order/6123400000042",
    "name": "#1042",
    "order_number": 1042,
    "email": "zoe@example.org",
    "created_at": "2025-03-14T16:20:05+01:00",
    "updated_at": "2025-03-14T16:21:40+01:00",
    "currency": "EUR",
    "presentment_currency": "CHF",
    "total_price": "122.90",
    "total_price_set": {
        "shop_money": {"amount": "122.90", "currency_code": "EUR"},
        "presentment_money": {"amount": "115.63", "currency_code": "CHF"},
    },
    "test": False,
    "note": "Bitte als Geschenk verpacken 🎁 — 谢谢",
    "note_attributes": [{"name": "awc", "value": "15880_1741964712_a1b2c3"}],
    "landing_site": "/?awc=15880_1741964712_a1b2c3&utm_source=awin",
    "discount_codes": [{"code": "SOMMER10", "amount": "12.29", "type": "percentage"}],
    "customer": {"id": 207119551, "first_name": "Zoë", "last_name": "Ørsted-Müller"},
    "line_items": [
        {"id": 1, "sku": "ALP-JKT-M", "title": "Daunenjacke „Gipfel“", "quantity": 1},
        {"id": 2, "sku": None, "title": "Geschenkverpackung", "quantity": 1},
    ],
    "refunds": [],
}
RAW = json.dumps(ORDER, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(raw: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def headers(raw: bytes = RAW, **overrides: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(raw),
        "X-Shopify-Shop-Domain": f"{SHOP}.myshopify.com",
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2025-03-14T15:21:41.123456789Z",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def records(raw: bytes, hdrs: Any, secret: str | SecretStr = SECRET) -> list[Record]:
    return records_from_webhook(raw, hdrs, secret, settings=SETTINGS)


def stream_records(order: dict[str, Any]) -> list[Record]:
    """What the orders stream yields for ``order`` served as one page of GET /orders.json."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/orders.json")
        return httpx.Response(200, json={"orders": [order]})

    connector = ShopifyConnector(
        SETTINGS, transport=httpx.MockTransport(handler), sleep=lambda seconds: None
    )
    try:
        return [m for m in connector.read(["orders"], {}) if isinstance(m, Record)]
    finally:
        connector.close()


# -- the same records as the orders stream -------------------------------------------------


def test_a_valid_delivery_yields_exactly_what_the_orders_stream_yields() -> None:
    from_webhook = records(RAW, headers())

    assert from_webhook == stream_records(ORDER)
    (record,) = from_webhook
    assert record.stream == "orders"
    # The stream's own preparation ran: settings-derived values, no personal data.
    assert record.data["_hub"]["click_ref"] == "15880_1741964712_a1b2c3"
    assert record.data["_hub"]["order_ref"] == "1042"
    assert "email" not in record.data and "first_name" not in record.data["customer"]
    assert record.data["note"] == "Bitte als Geschenk verpacken 🎁 — 谢谢"
    assert record.data["line_items"][0]["title"] == "Daunenjacke „Gipfel“"


def test_the_order_ref_follows_the_connections_settings() -> None:
    by_name = SETTINGS.model_copy(update={"order_ref": "name"})

    (record,) = records_from_webhook(RAW, headers(), SECRET, settings=by_name)

    assert record.data["_hub"]["order_ref"] == "#1042"


# -- the signature -------------------------------------------------------------------------


def test_verify_accepts_a_secretstr_and_the_exact_bytes() -> None:
    assert verify_webhook(RAW, sign(RAW), SECRET)
    assert verify_webhook(RAW, sign(RAW), SecretStr(SECRET))
    assert verify_webhook(bytearray(RAW), f"  {sign(RAW)} ", SECRET)
    assert records(RAW, headers(), SecretStr(SECRET))


def test_a_tampered_body_fails() -> None:
    tampered = RAW.replace(b'"122.90"', b'"1.90"', 1)
    assert tampered != RAW

    assert not verify_webhook(tampered, sign(RAW), SECRET)
    with pytest.raises(WebhookError) as caught:
        records(tampered, headers(RAW))
    assert caught.value.reason == "signature"
    assert "does not match its body" in str(caught.value)


def test_a_wrong_secret_fails() -> None:
    assert not verify_webhook(RAW, sign(RAW, "another-app-secret"), SECRET)
    with pytest.raises(WebhookError) as caught:
        records(RAW, headers(), "another-app-secret")
    assert caught.value.reason == "signature"
    assert SECRET not in str(caught.value) and "another-app-secret" not in str(caught.value)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_signature_fails(value: str | None) -> None:
    assert not verify_webhook(RAW, value, SECRET)
    with pytest.raises(WebhookError, match="has no X-Shopify-Hmac-Sha256 header") as caught:
        records(RAW, headers(**{"X-Shopify-Hmac-Sha256": value}))
    assert caught.value.reason == "signature"


def test_re_serialised_json_does_not_verify_so_the_raw_bytes_matter() -> None:
    reserialised = json.dumps(json.loads(RAW)).encode()  # the same data, other bytes
    assert json.loads(reserialised) == json.loads(RAW) and reserialised != RAW

    assert not verify_webhook(reserialised, sign(RAW), SECRET)
    with pytest.raises(WebhookError):
        records(reserialised, headers(RAW))
    with pytest.raises(TypeError, match="raw request body as bytes"):
        verify_webhook(RAW.decode(), sign(RAW), SECRET)  # type: ignore[arg-type]


def test_a_forged_non_ascii_signature_is_simply_wrong() -> None:
    assert not verify_webhook(RAW, "ä" * 44, SECRET)


def test_an_empty_secret_is_a_configuration_error_never_a_pass() -> None:
    with pytest.raises(WebhookError) as caught:
        verify_webhook(RAW, sign(RAW, "x"), "")
    assert caught.value.reason == "config"
    with pytest.raises(WebhookError):
        verify_webhook(RAW, sign(RAW, "x"), SecretStr(""))


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)

    assert records(RAW, headers())
    assert not verify_webhook(RAW, sign(RAW, "wrong"), SECRET)
    assert calls == [
        (sign(RAW).encode(), sign(RAW).encode()),
        (sign(RAW).encode(), sign(RAW, "wrong").encode()),
    ]


# -- topics, headers and bodies ------------------------------------------------------------


def test_orders_updated_is_accepted_and_header_names_ignore_case() -> None:
    lower = {name.lower(): value for name, value in headers().items()}
    lower["x-shopify-topic"] = "orders/updated"
    shouting = {name.upper(): value for name, value in headers().items()}
    expected = stream_records(ORDER)

    assert records(RAW, lower) == expected
    assert records(RAW, shouting) == expected
    assert records(RAW, httpx.Headers(lower)) == expected


@pytest.mark.parametrize("topic", ["products/update", "refunds/create", "ORDERS/CREATE", None])
def test_other_topics_are_refused_naming_the_accepted_ones(topic: str | None) -> None:
    with pytest.raises(WebhookError) as caught:
        records(RAW, headers(**{"X-Shopify-Topic": topic}))

    assert caught.value.reason == "topic"
    assert repr(topic or "(none)") in str(caught.value)
    assert all(accepted in str(caught.value) for accepted in ORDER_TOPICS)


def test_the_signature_is_checked_before_the_topic_and_the_body() -> None:
    for raw, topic in ((RAW, "products/update"), (b"not json", "orders/create")):
        forged = headers(raw, **{"X-Shopify-Topic": topic})
        forged["X-Shopify-Hmac-Sha256"] = sign(raw, "forger")
        with pytest.raises(WebhookError) as caught:
            records(raw, forged)
        assert caught.value.reason == "signature"


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"order": {"id": 1}}', b"\xff\xfe"])
def test_a_signed_body_that_is_not_an_order_is_refused(raw: bytes) -> None:
    with pytest.raises(WebhookError) as caught:
        records(raw, headers(raw))
    assert caught.value.reason == "body"


def test_a_delivery_from_another_shop_is_refused() -> None:
    other = headers(**{"X-Shopify-Shop-Domain": "someone-else.myshopify.com"})

    with pytest.raises(WebhookError) as caught:
        records(RAW, other)
    assert caught.value.reason == "shop"
    assert "someone-else" in str(caught.value)


def test_the_delivery_carries_its_idempotency_key_and_time() -> None:
    delivery = parse_webhook(RAW, headers(), SECRET, settings=SETTINGS)

    assert delivery.topic == "orders/create"
    assert delivery.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert delivery.triggered_at == datetime(2025, 3, 14, 15, 21, 41, 123456, tzinfo=UTC)
    assert (delivery.shop_domain, delivery.api_version) == (f"{SHOP}.myshopify.com", "2026-10")
    assert list(delivery.records) == stream_records(ORDER)
    unreadable = parse_webhook(
        RAW, headers(**{"X-Shopify-Triggered-At": "yesterday"}), SECRET, settings=SETTINGS
    )
    assert unreadable.triggered_at is None
