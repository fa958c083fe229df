"""The Shopify REST Admin API client: auth, pacing from the call-limit header, error messages.

Every request carries ``X-Shopify-Access-Token``. The shop's leaky bucket
(``X-Shopify-Shop-Api-Call-Limit: 32/40``) paces requests so that a normal
sync never sees a 429; when one comes anyway, the hub's HTTP client waits
``Retry-After`` and repeats the same URL. 401/403/404/402/423 fail at once
with a message that says what to fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from hub.errors import AuthError, FatalConnectorError, HubError, RetriableError
from hub.http import (
    HttpClient,
    LeakyBucketFromHeader,
    RetryPolicy,
    redact_url,
    retry_after_seconds,
)
from hub.pagination import LinkHeaderPaginator, Page

from .settings import ShopifySettings

CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
VERSION_HEADER = "X-Shopify-API-Version"

log = logging.getLogger("connectors.shopify")
#: ``GET`` answers 303 See Other (Location: the code's URL) when the code exists, 404 when not.
DISCOUNT_CODE_LOOKUP_PATH = "discount_codes/lookup.json"
_DISCOUNT_CODE_URL = re.compile(r"/price_rules/(\d+)/discount_codes/(\d+)(?:\.json)?(?:$|[?#])")

_HINTS = {
    401: "the access token was refused: check `access_token` (an Admin API token, shpat_...) "
    "and that the app is still installed on the shop",
    402: "the shop is frozen or unpaid; it must be reactivated in Shopify",
    403: "the token lacks an access scope: grant read_orders, read_all_orders, read_products "
    "and read_customers (write_price_rules and write_discounts for discount codes)",
    404: "check `shop` (the myshopify subdomain, not the storefront domain) and `api_version`; "
    "orders older than 60 days also answer 404 without the read_all_orders scope",
    423: "the shop is locked; ask the merchant to contact Shopify support",
}


class ShopifyValidationError(FatalConnectorError):
    """Shopify refused the data of one object (HTTP 422); other objects may still go through."""


@dataclass(frozen=True)
class DiscountCodeRef:
    """Where a discount code lives: its price rule and its own id."""

    price_rule_id: int
    discount_code_id: int


class _LookupAnswer(HubError):
    """Not a failure: carries the discount-code lookup's 303/404 out of the retry loop."""

    def __init__(self, status: int, location: str | None) -> None:
        super().__init__(f"discount code lookup answered HTTP {status}")
        self.status = status
        self.location = location


class ApiVersionWatch:
    """Warns (once) when Shopify serves another API version than the one requested.

    Shopify answers a request for an unsupported version with the oldest
    supported one instead of an error, and says so only in the
    ``X-Shopify-API-Version`` response header.
    """

    def __init__(self, requested: str) -> None:
        self.requested = requested
        self.served: str | None = None

    def observe(self, response: httpx.Response) -> None:
        served = response.headers.get(VERSION_HEADER)
        if not served or served == self.requested or served == self.served:
            return
        self.served = served
        log.warning(
            "Shopify served API version %s although %s was requested (the requested version "
            "is unsupported or unknown, so Shopify fell back to its oldest supported one); "
            "set api_version to a supported version",
            served,
            self.requested,
        )


def _classify(
    client_ref: list[HttpClient], watch: ApiVersionWatch
) -> Callable[[httpx.Response], HubError | None]:
    def classify(response: httpx.Response) -> HubError | None:
        watch.observe(response)
        status = response.status_code
        if status in (303, 404) and response.request.url.path.endswith(
            "/" + DISCOUNT_CODE_LOOKUP_PATH
        ):
            return _LookupAnswer(status, response.headers.get("location"))
        if status == 422 and "too many requests" in response.text.lower():
            return RetriableError(
                client_ref[0].describe(response), retry_after=retry_after_seconds(response)
            )
        if status == 422:
            return ShopifyValidationError(
                client_ref[0].describe(response),
                hint="Shopify refused the values named above; fix them in the source data "
                "(or the connection's options) and run again",
            )
        if status in (401, 403):
            return AuthError(client_ref[0].describe(response), hint=_HINTS[status])
        if status in _HINTS:
            return FatalConnectorError(client_ref[0].describe(response), hint=_HINTS[status])
        return None

    return classify


class ShopifyClient:
    """Talks to one shop's REST Admin API."""

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.version_watch = ApiVersionWatch(settings.api_version)
        ref: list[HttpClient] = []
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        self.limiter = LeakyBucketFromHeader(
            CALL_LIMIT_HEADER, leak_rate_per_second=settings.leak_rate, **extra
        )
        self.http = HttpClient(
            settings.api_url,
            headers={"X-Shopify-Access-Token": settings.access_token.get_secret_value()},
            secrets=[settings.access_token],
            transport=transport,
            retry=retry,
            rate_limiter=self.limiter,
            classify_error=_classify(ref, self.version_watch),
            **extra,
        )
        ref.append(self.http)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.get_json(path, params=params)

    def post_json(self, path: str, body: Any) -> Any:
        return self.http.post_json(path, json=body)

    def put_json(self, path: str, body: Any) -> Any:
        return self.http.request_json("PUT", path, json=body)[1]

    def lookup_discount_code(self, code: str) -> DiscountCodeRef | None:
        """Where the shop keeps discount ``code`` (case-insensitive), or None if it has none.

        Shopify answers ``GET discount_codes/lookup.json?code=...`` with 303 See
        Other and the code's URL in ``Location`` (``.../price_rules/{id}/
        discount_codes/{id}.json``), or 404 when no such code exists. A proxy
        that follows the redirect itself yields the code object (200) instead.
        """
        try:
            body = self.http.get_json(DISCOUNT_CODE_LOOKUP_PATH, params={"code": code})
        except _LookupAnswer as answer:
            if answer.status == 404:
                return None
            match = _DISCOUNT_CODE_URL.search(answer.location or "")
            if match is None:
                raise FatalConnectorError(
                    "the discount code lookup answered 303 without a usable Location header "
                    f"({redact_url(answer.location or '(none)')!r})",
                    hint="check base_url: a proxy between the hub and Shopify may rewrite "
                    "redirects",
                ) from None
            return DiscountCodeRef(int(match.group(1)), int(match.group(2)))
        found = body.get("discount_code") if isinstance(body, dict) else None
        if not isinstance(found, dict) or "id" not in found or "price_rule_id" not in found:
            raise FatalConnectorError(
                "the discount code lookup answered 200 without a discount_code object",
                hint="check base_url: it must point at the shop's Admin API",
            )
        return DiscountCodeRef(int(found["price_rule_id"]), int(found["id"]))

    def pages(self, path: str, params: Mapping[str, Any], records_key: str) -> Iterator[Page]:
        """Follow the Link header: filters go on the first request only (``page_info`` after)."""
        paginator = LinkHeaderPaginator(records_path=records_key)
        return paginator.pages(self.http, "GET", path, params=params)

    def close(self) -> None:
        self.http.close()
