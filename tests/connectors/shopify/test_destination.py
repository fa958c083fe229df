"""The shopify-discounts destination against an in-memory fake of the price-rule endpoints.

The fake answers like the REST Admin API (apis.md 1.3, 1.7; PriceRule and
DiscountCode resources): 201 with the created object, values echoed as
Shopify formats them ("-10.0"), timestamps in the shop's UTC offset, the
lookup as 303 See Other with a Location or 404, 422 with ``{"errors": {field:
[...]}}``, 401 with Shopify's message for a bad token.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.shopify.client import DiscountCodeRef, ShopifyClient
from connectors.shopify.destination import (
    DiscountLink,
    ShopifyDiscountDestination,
    ShopifyDiscountSettings,
    discount_from_offer,
    load_offers,
    push_offers,
    record_shopify_ids,
)
from hub.errors import AuthError, FatalConnectorError, RecordError
from hub.store import LINKS_KEY, Store
from hub.testing.leaks import capture_raw_logs, find_leaks

TOKEN = "shpat_destination_test_5b1e9c0d7a"
SHOP = "nordlicht-outdoor"
TENANT = "alpenglueck"
API = "/admin/api/2026-10"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
SHOP_OFFSET = timezone(timedelta(hours=2))  # the fake answers in the shop's offset
REQUIRED = (
    "title",
    "target_type",
    "target_selection",
    "allocation_method",
    "value_type",
    "value",
    "customer_selection",
    "starts_at",
)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        json=body,
        headers={"X-Shopify-Shop-Api-Call-Limit": "1/40", **(headers or {})},
    )


def _shopify_value(value: str) -> str:
    """Shopify echoes values with at least one decimal: "-10" -> "-10.0"."""
    text = format(Decimal(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def _shop_time(value: str | None) -> str | None:
    """Shopify keeps whole seconds and answers in the shop's offset [B]."""
    if value is None:
        return None
    instant = datetime.fromisoformat(value).astimezone(SHOP_OFFSET)
    return instant.replace(microsecond=0).isoformat()


class FakeShop:
    """Price rules and discount codes of one shop, in memory."""

    def __init__(self, currency: str = "EUR") -> None:
        self.currency = currency
        self.rules: dict[int, dict[str, Any]] = {}
        self.codes: dict[int, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.lose_next_code_response = False
        self.code_creation_status: int | None = None
        self._next_id = 507328100

    # -- helpers for the tests -------------------------------------------------------------

    def writes(self) -> list[tuple[str, str, Any]]:
        """(method, path, body) of every request that is not a GET."""
        return [
            (r.method, r.url.path, json.loads(r.content) if r.content else None)
            for r in self.requests
            if r.method != "GET"
        ]

    def rule_of(self, code: str) -> dict[str, Any]:
        (found,) = [c for c in self.codes.values() if c["code"].casefold() == code.casefold()]
        return self.rules[found["price_rule_id"]]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the API ---------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("X-Shopify-Access-Token") != TOKEN:
            return _json(
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
            )
        path = request.url.path.removeprefix(API)
        parts = path.strip("/").removesuffix(".json").split("/")
        body = json.loads(request.content) if request.content else None
        method = request.method
        if (method, parts) == ("GET", ["shop"]):
            return _json(200, {"shop": {"id": 1, "currency": self.currency}})
        if (method, parts) == ("GET", ["discount_codes", "lookup"]):
            return self._lookup(request.url.params["code"])
        if parts == ["price_rules"]:
            if method == "GET":
                return _json(200, {"price_rules": list(self.rules.values())[:1]})
            if method == "POST":
                return self._create_rule(body["price_rule"])
        if len(parts) == 2 and parts[0] == "price_rules" and int(parts[1]) in self.rules:
            rule_id = int(parts[1])
            if method == "GET":
                return _json(200, {"price_rule": self.rules[rule_id]})
            if method == "PUT":
                return self._update_rule(rule_id, body["price_rule"])
            if method == "DELETE":
                del self.rules[rule_id]
                self.codes = {k: c for k, c in self.codes.items() if c["price_rule_id"] != rule_id}
                return httpx.Response(204)
        if (
            len(parts) == 3
            and parts[0] == "price_rules"
            and parts[2] == "discount_codes"
            and method == "POST"
            and int(parts[1]) in self.rules
        ):
            return self._create_code(request, int(parts[1]), body["discount_code"])
        return _json(404, {"errors": "Not Found"})

    def _lookup(self, code: str) -> httpx.Response:
        for found in self.codes.values():
            if found["code"].casefold() == code.casefold():
                location = (
                    f"https://{SHOP}.myshopify.com{API}/price_rules/"
                    f"{found['price_rule_id']}/discount_codes/{found['id']}.json"
                )
                return httpx.Response(303, headers={"Location": location})
        return _json(404, {"errors": "Not Found"})

    def _validate(self, rule: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if rule.get("value_type") not in ("percentage", "fixed_amount"):
            errors["value_type"] = ["is not included in the list"]
        value = Decimal(rule.get("value") or "0")
        if value > 0:
            errors["value"] = ["must be less than or equal to 0"]
        if rule.get("value_type") == "percentage" and value < -100:
            errors["value"] = ["must be greater than or equal to -100"]
        return errors

    def _create_rule(self, rule: dict[str, Any]) -> httpx.Response:
        missing = {name: ["can't be blank"] for name in REQUIRED if not rule.get(name)}
        errors = missing or self._validate(rule)
        if errors:
            return _json(422, {"errors": errors})
        rule_id = self._id()
        stored = {
            "id": rule_id,
            **rule,
            "value": _shopify_value(rule["value"]),
            "starts_at": _shop_time(rule["starts_at"]),
            "ends_at": _shop_time(rule.get("ends_at")),
            "usage_limit": rule.get("usage_limit"),
            "once_per_customer": bool(rule.get("once_per_customer")),
            "entitled_product_ids": [],
            "prerequisite_subtotal_range": None,
            "created_at": NOW.astimezone(SHOP_OFFSET).isoformat(),
            "admin_graphql_api_id": f"gid://shopify/PriceRule/{rule_id}",
        }
        self.rules[rule_id] = stored
        return _json(201, {"price_rule": stored})

    def _update_rule(self, rule_id: int, changes: dict[str, Any]) -> httpx.Response:
        merged = {**self.rules[rule_id], **changes}
        errors = self._validate(merged)
        if errors:
            return _json(422, {"errors": errors})
        if "value" in changes:
            merged["value"] = _shopify_value(changes["value"])
        for name in ("starts_at", "ends_at"):
            if name in changes:
                merged[name] = _shop_time(changes[name])
        self.rules[rule_id] = merged
        return _json(200, {"price_rule": merged})

    def _create_code(
        self, request: httpx.Request, rule_id: int, code: dict[str, Any]
    ) -> httpx.Response:
        text = code.get("code") or ""
        if self.code_creation_status is not None:
            return _json(self.code_creation_status, {"errors": "Internal Server Error"})
        if len(text) > 255:
            return _json(422, {"errors": {"code": ["is too long (maximum is 255 characters)"]}})
        if any(c["code"].casefold() == text.casefold() for c in self.codes.values()):
            return _json(
                422, {"errors": {"code": ["must be unique. Please try a different code."]}}
            )
        code_id = self._id()
        stored = {"id": code_id, "price_rule_id": rule_id, "code": text, "usage_count": 0}
        self.codes[code_id] = stored
        if self.lose_next_code_response:
            self.lose_next_code_response = False
            raise httpx.ReadTimeout("the response was lost", request=request)
        return _json(201, {"discount_code": stored})


# -- fixtures and rows ---------------------------------------------------------------------


def settings(**options: Any) -> ShopifyDiscountSettings:
    return ShopifyDiscountSettings(shop=SHOP, access_token=TOKEN, **options)


def destination(fake: FakeShop, token: str = TOKEN, **options: Any) -> ShopifyDiscountDestination:
    config = ShopifyDiscountSettings(shop=SHOP, access_token=token, **options)
    return ShopifyDiscountDestination(
        config, transport=fake.transport(), sleep=lambda seconds: None, clock=lambda: NOW
    )


def shopper(kind: str = "percentage", value: Any = "10", **extra: Any) -> dict[str, Any]:
    return {"kind": "shopper_discount", "type": kind, "value": value, **extra}


def offer(
    offer_id: str = "off-1",
    code: str | None = "SUMMER10",
    *,
    kind: str = "coop",
    rules: list[dict[str, Any]] | None = None,
    valid_from: datetime | None = datetime(2025, 6, 1, tzinfo=UTC),
    valid_to: datetime | None = datetime(2025, 8, 31, 22, 0, tzinfo=UTC),
    status: str | None = "active",
) -> dict[str, Any]:
    return {
        "id": offer_id,
        "tenant": "alpenglueck",
        "source": "awin",
        "connection": "awin-main",
        "external_id": offer_id,
        "source_updated_at": datetime(2025, 4, 30, 8, 0, tzinfo=UTC),
        "synced_at": datetime(2025, 4, 30, 9, 0, tzinfo=UTC),
        "extra": {"network_campaign": "summer"},
        "name": f"Co-op {code}",
        "kind": kind,
        "commission_rules": rules
        if rules is not None
        else [{"kind": "percentage", "value": "7.5", "scope": "default"}, shopper()],
        "voucher_code": code,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "status": status,
    }


@pytest.fixture
def fake() -> FakeShop:
    return FakeShop()


# -- creating ------------------------------------------------------------------------------


def test_creates_a_price_rule_and_its_code_from_the_offer(fake: FakeShop) -> None:
    result = destination(fake).write([offer()])

    assert (result.created, result.sent, result.failed, result.unchanged) == (1, 1, 0, 0)
    rule = fake.rule_of("SUMMER10")
    assert rule["title"] == "SUMMER10"
    assert (rule["value_type"], rule["value"]) == ("percentage", "-10.0")
    assert (rule["target_type"], rule["target_selection"]) == ("line_item", "all")
    assert (rule["allocation_method"], rule["customer_selection"]) == ("across", "all")
    assert datetime.fromisoformat(rule["starts_at"]) == datetime(2025, 6, 1, tzinfo=UTC)
    assert datetime.fromisoformat(rule["ends_at"]) == datetime(2025, 8, 31, 22, tzinfo=UTC)
    assert (rule["usage_limit"], rule["once_per_customer"]) == (None, False)
    (code,) = fake.codes.values()
    assert result.links == {"off-1": DiscountLink(SHOP, rule["id"], code["id"])}
    # Exactly: lookup, create the price rule, create the code under it.
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("GET", f"{API}/discount_codes/lookup.json"),
        ("POST", f"{API}/price_rules.json"),
        ("POST", f"{API}/price_rules/{rule['id']}/discount_codes.json"),
    ]


def test_fixed_amount_and_destination_options(fake: FakeShop) -> None:
    rules = [shopper("fixed_amount", "7.50", currency="EUR")]
    dest = destination(fake, usage_limit=500, once_per_customer=True)

    result = dest.write([offer(code="WINTER5", rules=rules, valid_from=None, valid_to=None)])

    assert result.created == 1
    rule = fake.rule_of("WINTER5")
    assert (rule["value_type"], rule["value"]) == ("fixed_amount", "-7.5")
    assert (rule["usage_limit"], rule["once_per_customer"]) == (500, True)
    # No valid_from: it starts now; no valid_to: it never ends.
    assert datetime.fromisoformat(rule["starts_at"]) == NOW
    assert rule["ends_at"] is None


def test_a_fixed_amount_in_another_currency_than_the_shops_fails(fake: FakeShop) -> None:
    rules = [shopper("fixed_amount", "5", currency="USD")]

    result = destination(fake).write([offer(rules=rules), offer("off-2", "OTHER10")])

    assert (result.failed, result.created) == (1, 1)
    assert "USD" in result.errors[0] and "EUR" in result.errors[0]
    assert result.errors[0].startswith("offer off-1 (code SUMMER10)")
    assert [code["code"] for code in fake.codes.values()] == ["OTHER10"]


# -- idempotency ---------------------------------------------------------------------------


def test_a_second_write_sends_nothing(fake: FakeShop) -> None:
    rows = [
        offer(),
        offer("off-2", "WINTER5", rules=[shopper("fixed_amount", "5", currency="EUR")]),
    ]
    first = destination(fake).write(rows)
    rules_after_first = json.dumps(fake.rules, sort_keys=True)
    fake.requests.clear()

    second = destination(fake).write(rows)

    assert first.created == 2
    assert (second.created, second.updated, second.sent, second.unchanged) == (0, 0, 0, 2)
    assert fake.writes() == []
    assert json.dumps(fake.rules, sort_keys=True) == rules_after_first
    assert second.links == first.links


def test_a_changed_offer_updates_only_the_changed_fields(fake: FakeShop) -> None:
    destination(fake).write([offer()])
    rule_id = fake.rule_of("SUMMER10")["id"]
    fake.requests.clear()
    changed = offer(rules=[shopper(value="15")], valid_to=datetime(2025, 9, 30, tzinfo=UTC))

    result = destination(fake).write([changed])

    assert (result.updated, result.sent, result.created) == (1, 1, 0)
    assert fake.writes() == [
        (
            "PUT",
            f"{API}/price_rules/{rule_id}.json",
            {
                "price_rule": {
                    "id": rule_id,
                    "value_type": "percentage",
                    "value": "-15",
                    "ends_at": "2025-09-30T00:00:00+00:00",
                }
            },
        )
    ]
    assert fake.rule_of("SUMMER10")["value"] == "-15.0"
    fake.requests.clear()
    assert destination(fake).write([changed]).unchanged == 1
    assert fake.writes() == []


def test_sub_second_offer_times_do_not_cause_an_update_on_every_run(fake: FakeShop) -> None:
    row = offer(valid_from=datetime(2025, 6, 1, 0, 0, 0, 654321, tzinfo=UTC))
    destination(fake).write([row])
    fake.requests.clear()

    assert destination(fake).write([row]).unchanged == 1
    assert fake.writes() == []


def test_a_withdrawn_offer_ends_its_price_rule_once(fake: FakeShop) -> None:
    destination(fake).write([offer()])
    withdrawn = offer(status="Paused")

    ended = destination(fake).write([withdrawn])
    again = destination(fake).write([withdrawn])

    assert (ended.updated, again.updated, again.unchanged) == (1, 0, 1)
    assert datetime.fromisoformat(fake.rule_of("SUMMER10")["ends_at"]) == NOW
    # Back to active: valid_to is restored.
    assert destination(fake).write([offer()]).updated == 1
    assert datetime.fromisoformat(fake.rule_of("SUMMER10")["ends_at"]) == datetime(
        2025, 8, 31, 22, tzinfo=UTC
    )


def test_withdrawn_or_ended_offers_are_not_created(fake: FakeShop) -> None:
    rows = [
        offer(status="expired"),
        offer("off-2", "OLD10", valid_from=None, valid_to=NOW - timedelta(days=1)),
    ]

    result = destination(fake).write(rows)

    assert result.skipped == 2 and result.created == 0
    assert result.skip_reasons == {
        "withdrawn, not in the shop": 1,
        "already ended, not in the shop": 1,
    }
    assert fake.writes() == []


def test_the_same_code_on_two_offers(fake: FakeShop) -> None:
    same = offer("off-2", "summer10")  # codes are case-insensitive in Shopify
    other_terms = offer("off-3", "SUMMER10", rules=[shopper(value="20")])

    result = destination(fake).write([offer(), same, other_terms])

    assert (result.created, result.unchanged, result.failed) == (1, 1, 1)
    assert result.links["off-2"] == result.links["off-1"]
    assert "offer off-3 (code SUMMER10)" in result.errors[0]
    assert "offer off-1" in result.errors[0]
    assert len(fake.rules) == 1


# -- dry run -------------------------------------------------------------------------------


def test_dry_run_sends_nothing_and_plans_exactly_what_a_real_run_sends(fake: FakeShop) -> None:
    rows = [offer(), offer("off-2", "WINTER5")]

    planned = destination(fake).write(rows, dry_run=True)

    assert fake.writes() == []
    assert (planned.sent, planned.created) == (0, 2)
    assert planned.links == {}
    real = destination(fake).write(rows)
    rule_ids = [link.price_rule_id for link in real.links.values()]
    expected = [
        (
            p["method"],
            p["path"].replace("{price_rule_id}", str(rule_ids[i // 2])),
            p["body"],
        )
        for i, p in enumerate(planned.planned)
    ]
    assert fake.writes() == expected
    assert [p["action"] for p in planned.planned] == ["create"] * 4
    assert {p["offer_id"] for p in planned.planned} == {"off-1", "off-2"}


def test_dry_run_of_an_update_plans_the_put(fake: FakeShop) -> None:
    destination(fake).write([offer()])
    changed = offer(rules=[shopper(value="12.5")])
    fake.requests.clear()

    planned = destination(fake).write([changed], dry_run=True)

    assert fake.writes() == []
    assert (planned.updated, planned.sent) == (1, 0)
    assert planned.links["off-1"].price_rule_id == fake.rule_of("SUMMER10")["id"]
    destination(fake).write([changed])
    (put,) = fake.writes()
    (plan,) = planned.planned
    assert (plan["method"], plan["path"], plan["body"]) == put
    summary = planned.summary()
    assert summary.startswith("Shopify discounts (dry run, nothing sent): 0 to create, 1 to update")
    assert f"PUT {put[1]} " in summary and '"value":"-12.5"' in summary


# -- failures ------------------------------------------------------------------------------


def test_a_refused_code_fails_its_offer_only_and_leaves_no_price_rule(fake: FakeShop) -> None:
    too_long = "X" * 256
    rows = [offer(), offer("off-2", too_long), offer("off-3", "AUTUMN10")]

    result = destination(fake).write(rows)

    assert (result.created, result.failed, result.sent) == (2, 1, 2)
    (error,) = result.errors
    assert error.startswith(f"offer off-2 (code {too_long})")
    assert "HTTP 422" in error and "is too long" in error
    assert "deleted again" in error
    assert sorted(c["code"] for c in fake.codes.values()) == ["AUTUMN10", "SUMMER10"]
    assert len(fake.rules) == 2  # the rule created for off-2 was deleted
    assert [m for m, *_ in fake.writes()].count("DELETE") == 1
    assert set(result.links) == {"off-1", "off-3"}


def test_a_lost_response_to_the_code_creation_is_recovered(fake: FakeShop) -> None:
    fake.lose_next_code_response = True

    result = destination(fake).write([offer()])

    assert (result.created, result.failed) == (1, 0)
    assert len(fake.rules) == 1 and len(fake.codes) == 1
    (code,) = fake.codes.values()
    assert result.links["off-1"].discount_code_id == code["id"]
    # The retried POST met "must be unique"; the lookup showed it is under our rule.
    assert [m for m, *_ in fake.writes()] == ["POST", "POST", "POST"]


def test_a_server_error_on_the_code_stops_the_run_without_an_orphan_rule(fake: FakeShop) -> None:
    fake.code_creation_status = 500

    with pytest.raises(FatalConnectorError) as caught:
        destination(fake).write([offer(), offer("off-2", "WINTER5")])

    assert "offer off-1 (code SUMMER10)" in str(caught.value)
    assert "HTTP 500" in str(caught.value) and "deleted again" in str(caught.value)
    assert fake.rules == {} and fake.codes == {}
    # A 5xx on a creating POST is not retried (it may have been processed): one attempt.
    assert [m for m, *_ in fake.writes()] == ["POST", "POST", "DELETE"]


def test_a_refused_token_stops_at_once_with_a_hint(fake: FakeShop) -> None:
    dest = destination(fake, token="shpat_wrong_token_0000")

    with pytest.raises(AuthError) as caught:
        dest.write([offer(), offer("off-2", "WINTER5")])

    assert len(fake.requests) == 1  # the first lookup; nothing after it
    assert caught.value.hint is not None and "access_token" in caught.value.hint
    assert "shpat_wrong_token_0000" not in str(caught.value)


def test_check_reads_price_rules_and_reports_a_missing_scope(fake: FakeShop) -> None:
    destination(fake).check()
    assert fake.requests[-1].url.path == f"{API}/price_rules.json"

    forbidden = httpx.MockTransport(
        lambda request: _json(403, {"errors": "[API] This action requires merchant approval"})
    )
    dest = ShopifyDiscountDestination(settings(), transport=forbidden, sleep=lambda s: None)
    with pytest.raises(AuthError) as caught:
        dest.check()
    assert caught.value.hint is not None and "write_price_rules" in caught.value.hint


def test_the_token_never_reaches_results_errors_or_logs(fake: FakeShop) -> None:
    rows = [offer(), offer("off-2", "Y" * 300), offer("off-3", rules=[])]
    with capture_raw_logs(logging.DEBUG) as logs:
        planned = destination(fake).write(rows, dry_run=True)
        written = destination(fake).write(rows)
        with pytest.raises(AuthError) as refused:
            destination(fake, token="shpat_other_secret_9999").write(rows)

    assert written.failed == 2 and logs  # something was logged and checked
    places = {
        "planned": planned.planned,
        "summary": planned.summary() + written.summary(),
        "errors": written.errors,
        "links": repr(written.links),
        "logs": logs,
        "auth error": str(refused.value),
    }
    assert find_leaks([TOKEN, "shpat_other_secret_9999"], places) == []


# -- offers that are not written -----------------------------------------------------------


def test_other_kinds_and_offers_without_a_code_are_skipped_and_counted(fake: FakeShop) -> None:
    rows = [
        offer(kind="program"),
        offer("off-2", kind="commission_group"),
        offer("off-3", code=None, kind="voucher"),
        offer("off-4", code="   ", kind="voucher"),
    ]

    result = destination(fake).write(rows)

    assert (result.skipped, result.failed, result.sent) == (4, 0, 0)
    assert result.skip_reasons == {
        "kind program": 1,
        "kind commission_group": 1,
        "no voucher_code": 2,
    }
    assert fake.requests == []


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        ([{"kind": "percentage", "value": "5"}], "has no commission rule of kind"),
        ([shopper(), shopper(value="5")], "has 2 commission rule"),
        ([shopper(kind="free_shipping")], "is not one of percentage, fixed_amount"),
        ([shopper(value="ten")], "is not a decimal number"),
        ([shopper(value="-10")], "must be positive"),
        ([shopper(value=True)], "is not a decimal number"),
        ([shopper(value="150")], "more than 100"),
        ([shopper("fixed_amount", "5")], "needs its ISO currency"),
    ],
)
def test_offers_with_unusable_rules_fail_before_any_request(
    fake: FakeShop, rules: list[dict[str, Any]], fragment: str
) -> None:
    result = destination(fake).write([offer(rules=rules)])

    assert (result.failed, result.sent) == (1, 0)
    assert result.errors[0].startswith("offer off-1 (code SUMMER10): ")
    assert fragment in result.errors[0]
    assert fake.requests == []


def test_offer_dates_must_be_aware_and_in_order() -> None:
    with pytest.raises(RecordError, match="timezone-aware"):
        discount_from_offer(offer(valid_from=datetime(2025, 6, 1)))
    with pytest.raises(RecordError, match="is not after valid_from"):
        discount_from_offer(
            offer(
                valid_from=datetime(2025, 6, 2, tzinfo=UTC),
                valid_to=datetime(2025, 6, 1, tzinfo=UTC),
            )
        )
    parsed = discount_from_offer(
        {**offer(), "valid_from": "2025-06-01T02:00:00+02:00", "valid_to": None, "kind": "voucher"}
    )
    assert parsed.starts_at == datetime(2025, 6, 1, tzinfo=UTC) and parsed.ends_at is None
    assert parsed.shopify_value == "-10"


# -- the lookup ------------------------------------------------------------------------------


def _client(handler: Any) -> ShopifyClient:
    return ShopifyClient(settings(), transport=httpx.MockTransport(handler), sleep=lambda s: None)


def test_lookup_understands_303_404_and_a_followed_redirect() -> None:
    location = f"https://{SHOP}.myshopify.com{API}/price_rules/11/discount_codes/22.json"
    found = _client(lambda r: httpx.Response(303, headers={"Location": location}))
    absent = _client(lambda r: _json(404, {"errors": "Not Found"}))
    followed = _client(lambda r: _json(200, {"discount_code": {"id": 22, "price_rule_id": 11}}))

    assert found.lookup_discount_code("A") == DiscountCodeRef(11, 22)
    assert absent.lookup_discount_code("A") is None
    assert followed.lookup_discount_code("A") == DiscountCodeRef(11, 22)


def test_a_404_elsewhere_is_still_fatal_and_a_303_without_location_is_explained() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("lookup.json"):
            return httpx.Response(303)
        return _json(404, {"errors": "Not Found"})

    client = _client(handler)
    with pytest.raises(FatalConnectorError, match="without a usable Location"):
        client.lookup_discount_code("A")
    with pytest.raises(FatalConnectorError) as caught:
        client.get_json("price_rules/1.json")
    assert caught.value.hint is not None and "shop" in caught.value.hint


# -- recording the ids on the offers --------------------------------------------------------


def _stored(store: Store, offer_id: str) -> dict[str, Any]:
    (row,) = [row for row in load_offers(store) if row["id"] == offer_id]
    return row


def test_push_offers_records_the_ids_without_a_new_version(fake: FakeShop, store: Store) -> None:
    rows = [offer(), offer("off-2", "WINTER5", kind="voucher"), offer("off-3", kind="program")]
    with store.transaction() as connection:
        store.upsert(connection, "offer", rows)
    before = _stored(store, "off-1")

    dry = push_offers(store, destination(fake), tenant=TENANT, dry_run=True)
    assert dry.created == 2 and _stored(store, "off-1")["extra"] == before["extra"]

    result = push_offers(store, destination(fake), tenant=TENANT)

    after = _stored(store, "off-1")
    link = result.links["off-1"]
    assert after["extra"] == {
        "network_campaign": "summer",
        LINKS_KEY: {
            "shopify": {
                SHOP: {
                    "price_rule_id": link.price_rule_id,
                    "discount_code_id": link.discount_code_id,
                }
            }
        },
    }
    assert after["source_updated_at"] == before["source_updated_at"]
    assert after["synced_at"] == before["synced_at"]
    assert {key: after[key] for key in after if key != "extra"} == {
        key: before[key] for key in before if key != "extra"
    }
    assert "shopify" in _stored(store, "off-2")["extra"][LINKS_KEY]
    assert [row["id"] for row in load_offers(store)] == ["off-1", "off-2"]  # no program
    assert record_shopify_ids(store, result.links, tenant=TENANT) == 0  # already recorded


def test_ids_of_another_shop_are_kept_beside(store: Store) -> None:
    with store.transaction() as connection:
        store.upsert(connection, "offer", [offer()])

    assert (
        record_shopify_ids(store, {"off-1": DiscountLink("other-shop", 1, 2)}, tenant=TENANT) == 1
    )
    assert record_shopify_ids(store, {"off-1": DiscountLink(SHOP, 3, 4)}, tenant=TENANT) == 1
    assert (
        record_shopify_ids(store, {"unknown-offer": DiscountLink(SHOP, 3, 4)}, tenant=TENANT) == 0
    )

    assert _stored(store, "off-1")["extra"][LINKS_KEY]["shopify"] == {
        "other-shop": {"price_rule_id": 1, "discount_code_id": 2},
        SHOP: {"price_rule_id": 3, "discount_code_id": 4},
    }


def test_recorded_ids_survive_a_new_version_of_the_offer(store: Store) -> None:
    with store.transaction() as connection:
        store.upsert(connection, "offer", [offer()])
    record_shopify_ids(store, {"off-1": DiscountLink(SHOP, 3, 4)}, tenant=TENANT)
    newer = offer()
    newer["source_updated_at"] = newer["source_updated_at"] + timedelta(days=1)
    with store.transaction() as connection:
        store.upsert(connection, "offer", [newer])
    assert _stored(store, "off-1")["extra"][LINKS_KEY]["shopify"][SHOP]["price_rule_id"] == 3
